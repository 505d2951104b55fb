// filters_worker: a native Appose worker exposing OpenCV operations on arrays in shared memory
// (docs/examples.md). Any Appose service drives it; examples/filters/client.py does so from
// Python with appose-python's own Service, as a napari plugin or a notebook would.
//
// Every operation reads its 2-D inputs where the caller put them (no copy) and writes its result
// either into the caller's array `out`, when given (it must have the result's dtype and shape;
// nothing is returned for it), or into a new array it creates and returns as output `out` (the
// host then owns the block: appose-python's host unlinks it with `out.shm.unlink()`).
//
//   gaussian_blur         image (float32), sigma                -> out float32, image's shape
//                         kernel radius 4 sigma, borders mirrored without repeating the edge
//                         (scipy.ndimage.gaussian_filter(image, sigma, mode="mirror"))
//   distance_transform    mask (uint8, nonzero = foreground)    -> out float32, mask's shape
//                         exact Euclidean distance to the nearest zero
//                         (scipy.ndimage.distance_transform_edt)
//   connected_components  mask (uint8), connectivity 4 or 8     -> out int32, mask's shape;
//                         (default 8)                              count (regions, background
//                                                                  excluded)
//                         (skimage.measure.label; the numbering may differ)
//   resize                image (float32), width, height        -> out float32 [height, width]
//                         bilinear, pixel centres aligned
//                         (scipy.ndimage.zoom(..., order=1, grid_mode=True, mode="nearest"))

#include <appose/worker.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "opencv_view.hpp"

namespace {

using appose_examples::mat_view;

// The named 2-D input, checked to be of `dtype`.
appose::NDArray input(appose::WorkerTask& task, const std::string& name, appose::DType dtype) {
  auto array = task.inputs().at(name).get<appose::NDArray>();
  if (array.dtype() != dtype || array.shape().rank() != 2) {
    throw std::invalid_argument(name + " must be a 2-D " + std::string(appose::dtype_name(dtype)) +
                                " array");
  }
  return array;
}

// Where the result goes: the caller's `out` (checked against the result's dtype and shape, so
// that OpenCV writes into it rather than into a buffer of its own), or a new array that
// finish() hands to the host.
struct Output {
  appose::NDArray array;
  bool created = false;
};

Output output(appose::WorkerTask& task, appose::DType dtype, const appose::Shape& shape) {
  const appose::Value* given = task.inputs().find("out");
  if (given == nullptr || given->is_null()) return {appose::NDArray(dtype, shape), true};
  auto array = given->get<appose::NDArray>();
  if (array.dtype() != dtype || array.shape() != shape) {
    throw std::invalid_argument("out must be a " + std::string(appose::dtype_name(dtype)) +
                                " array of the result's shape");
  }
  return {array, false};
}

// Hands a created array to the host. `dst` is the Mat OpenCV wrote: were it not the block any
// more (OpenCV reallocates an output whose size or type it does not want), the result would be
// lost, so that is an error rather than a silently unchanged array.
void finish(appose::WorkerTask& task, const Output& out, const cv::Mat& dst) {
  if (static_cast<const void*>(dst.data) != static_cast<const void*>(out.array.bytes().data()))
    throw std::logic_error("OpenCV wrote its result outside the shared-memory array");
  if (out.created) task.outputs()["out"] = out.array;
}

}  // namespace

int main() {
  appose::Worker worker;

  worker.define("gaussian_blur", [](appose::WorkerTask& task) {
    auto image = input(task, "image", appose::DType::float32);
    const double sigma = task.inputs().at("sigma").get<double>();
    if (!(sigma > 0)) throw std::invalid_argument("sigma must be positive");
    Output out = output(task, appose::DType::float32, image.shape());
    cv::Mat dst = mat_view(out.array);
    // Kernel size 0: OpenCV derives it from sigma, radius round(4 sigma) for float images.
    cv::GaussianBlur(mat_view(image), dst, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT_101);
    finish(task, out, dst);
  });

  worker.define("distance_transform", [](appose::WorkerTask& task) {
    auto mask = input(task, "mask", appose::DType::uint8);
    Output out = output(task, appose::DType::float32, mask.shape());
    cv::Mat dst = mat_view(out.array);
    cv::distanceTransform(mat_view(mask), dst, cv::DIST_L2, cv::DIST_MASK_PRECISE, CV_32F);
    finish(task, out, dst);
  });

  worker.define("connected_components", [](appose::WorkerTask& task) {
    auto mask = input(task, "mask", appose::DType::uint8);
    const int connectivity = task.input_or("connectivity", 8);
    if (connectivity != 4 && connectivity != 8)
      throw std::invalid_argument("connectivity must be 4 or 8");
    Output out = output(task, appose::DType::int32, mask.shape());
    cv::Mat dst = mat_view(out.array);
    const int labels = cv::connectedComponents(mat_view(mask), dst, connectivity, CV_32S);
    task.outputs()["count"] = labels - 1;  // OpenCV counts the background as label 0
    finish(task, out, dst);
  });

  worker.define("resize", [](appose::WorkerTask& task) {
    auto image = input(task, "image", appose::DType::float32);
    const int width = task.inputs().at("width").get<int>();
    const int height = task.inputs().at("height").get<int>();
    if (width <= 0 || height <= 0) throw std::invalid_argument("width and height must be > 0");
    Output out = output(task, appose::DType::float32, appose::Shape{height, width});
    cv::Mat dst = mat_view(out.array);
    cv::resize(mat_view(image), dst, dst.size(), 0, 0, cv::INTER_LINEAR);
    finish(task, out, dst);
  });

  return worker.run();
}
