// segment: a C++ imaging program that uses Python's ecosystem (docs/examples.md).
//
// OpenCV reads the image into shared memory; a Python worker in a uv environment built by
// Appose (scikit-image, SciPy) segments it — background flattening, Gaussian smoothing, Otsu
// threshold, labelling, region properties — reporting progress as it goes, and returns a label
// image it creates in shared memory; OpenCV draws the regions' outlines and numbers over the
// input and writes the picture. No pixel is copied between the two processes: both sides view
// the same blocks (cv::Mat over the NDArray's memory here, numpy.ndarray there).
//
// Usage:
//   segment [IMAGE] [--out FILE] [--env NAME_OR_DIR]
//   segment --python [--env NAME_OR_DIR]
//
//   IMAGE    any image OpenCV reads (read as 8-bit grey); default: scikit-image's `coins`,
//            fetched through the worker (it ships inside scikit-image: no network once the
//            environment exists)
//   --out    where to write the picture (default: segmented.png)
//   --env    the environment's name under ~/.local/share/appose ($APPOSE_ENVS_DIR), or a
//            directory (default: appose-cpp-examples)
//   --python builds (or finds up to date) the environment, prints its Python and exits:
//            examples/filters/client.py runs there (it needs the same packages)
//
// uv is found through $APPOSE_UV, the peers' cache (<envs>/.uv/bin/uv) or PATH.

#include <appose/appose.hpp>

#include "opencv_view.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

// The Python packages of the environment; appose-python's worker must match the protocol
// appose-cpp speaks (0.12.0). Change this list (and kSegmentScript) to run your own model.
const std::vector<std::string> kPackages = {"appose==0.12.0", "numpy", "scipy>=1.11",
                                            "scikit-image>=0.22"};

// Imported once, before the worker reads its first request: scikit-image takes a second or
// two to import, and imports must precede reading stdin (appose-python issue #23).
constexpr const char* kInitScript = R"(
import numpy
import scipy.ndimage
import skimage.data, skimage.filters, skimage.measure, skimage.morphology
)";

// The coins image shipped inside scikit-image, copied into an array the worker creates: the
// host receives it by name and owns it (unlinked when the last NDArray handle goes).
constexpr const char* kCoinsScript = R"(
from appose import NDArray
from skimage import data
coins = data.coins()
image = NDArray(str(coins.dtype), list(coins.shape))
image.ndarray()[:] = coins
task.outputs["image"] = image
)";

// The segmentation. Inputs: image (2-D NDArray), background_sigma, sigma, min_area.
// Outputs: labels (int32 NDArray of the image's shape, 0 = background, regions 1..n), regions
// (one object per region), threshold (Otsu's, on the flattened and smoothed image).
constexpr const char* kSegmentScript = R"(
import numpy as np
from appose import NDArray
from scipy import ndimage as ndi
from skimage import filters, measure, morphology

steps = 6
def step(n, message):
    task.update(message=message, current=n, maximum=steps)

pixels = image.ndarray().astype(np.float64)
step(1, "flattening the background")
flat = pixels - filters.gaussian(pixels, sigma=background_sigma, preserve_range=True)
step(2, "smoothing")
smooth = filters.gaussian(flat, sigma=sigma, preserve_range=True)
step(3, "Otsu threshold")
threshold = filters.threshold_otsu(smooth)
mask = ndi.binary_fill_holes(smooth > threshold)
mask = ndi.binary_opening(mask, structure=morphology.disk(2))
step(4, "labelling")
labels = measure.label(mask)
sizes = np.bincount(labels.ravel())
small = sizes < min_area
small[0] = False
mask[small[labels]] = False
labels = measure.label(mask)
step(5, "region properties")
regions = []
for r in measure.regionprops(labels, intensity_image=pixels):
    y, x = r.centroid
    regions.append({"label": int(r.label), "area": int(r.area), "x": float(x), "y": float(y),
                    "diameter": float(r.equivalent_diameter_area),
                    "mean": float(r.intensity_mean)})
step(6, "label image")
out = NDArray("int32", list(labels.shape))
out.ndarray()[:] = labels
task.outputs["labels"] = out
task.outputs["regions"] = regions
task.outputs["threshold"] = float(threshold)
)";

struct Options {
  std::optional<std::string> image;
  std::string out = "segmented.png";
  std::string env = "appose-cpp-examples";
  bool python_only = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--out") {
      o.out = value();
    } else if (arg == "--env") {
      o.env = value();
    } else if (arg == "--python") {
      o.python_only = true;
    } else if (arg.starts_with("-")) {
      throw std::invalid_argument(
          "unknown option " + std::string(arg) +
          "; usage: segment [IMAGE] [--out FILE] [--env NAME_OR_DIR] | --python");
    } else {
      o.image = std::string(arg);
    }
  }
  return o;
}

// The image to segment, decoded by OpenCV, or none for the coins.
std::optional<cv::Mat> decode(const Options& o) {
  if (!o.image) return std::nullopt;
  cv::Mat decoded = cv::imread(*o.image, cv::IMREAD_GRAYSCALE);
  if (decoded.empty()) throw std::runtime_error("OpenCV cannot read " + *o.image + " as an image");
  return decoded;
}

// The image in shared memory: the decoded file copied once into a new block (the only copy of
// its pixels), or the coins, in a block the worker made.
appose::NDArray share(const std::optional<cv::Mat>& decoded, appose::Service& python) {
  if (decoded) {
    appose::NDArray image(appose::DType::uint8, appose::Shape{decoded->rows, decoded->cols});
    decoded->copyTo(appose_examples::mat_view(image));  // same size and type: no reallocation
    return image;
  }
  auto task = python.task(kCoinsScript);
  task.wait_for();
  auto image = task.outputs().at("image").get<appose::NDArray>();
  if (image.dtype() != appose::DType::uint8 || image.shape().rank() != 2)
    throw std::runtime_error("the worker's coins image is not 2-D uint8");
  return image;
}

// One colour per region, cycling (BGR).
cv::Scalar colour(int label) {
  static const std::array<cv::Scalar, 8> kPalette = {
      cv::Scalar(0, 0, 255),   cv::Scalar(0, 200, 0),   cv::Scalar(255, 64, 0),
      cv::Scalar(0, 220, 255), cv::Scalar(255, 0, 255), cv::Scalar(255, 255, 0),
      cv::Scalar(0, 128, 255), cv::Scalar(160, 32, 240)};
  return kPalette[static_cast<std::size_t>(label) % kPalette.size()];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options opt = parse(argc, argv);
    const std::optional<cv::Mat> decoded = decode(opt);  // before a build: fail fast
    appose::Environment env =
        appose::uv()
            .include(kPackages)
            .subscribe_progress([](std::string_view title, std::int64_t, std::int64_t) {
              std::fprintf(stderr, "build: %.*s\n", static_cast<int>(title.size()), title.data());
            })
            .build(opt.env);
    if (opt.python_only) {
      std::printf("%s/python\n", env.bin_paths().at(0).c_str());
      return 0;
    }

    appose::Service python = env.python();
    python.init(kInitScript);

    appose::NDArray image = share(decoded, python);
    const cv::Mat grey = appose_examples::mat_view(image);
    std::printf("image: %s, %d x %d\n", opt.image ? opt.image->c_str() : "coins (scikit-image)",
                grey.cols, grey.rows);

    appose::Task task = python.task(
        kSegmentScript,
        {{"image", image}, {"background_sigma", 30.0}, {"sigma", 2.0}, {"min_area", 300}});
    // Runs on the service's event thread, in the order the worker sent its updates.
    task.listen([](const appose::TaskEvent& e) {
      if (e.response_type == appose::ResponseType::UPDATE) {
        std::printf("progress %lld/%lld: %s\n", static_cast<long long>(e.current.value_or(0)),
                    static_cast<long long>(e.maximum.value_or(0)), e.message.value_or("").c_str());
      }
    });
    task.wait_for();

    auto labels = task.outputs().at("labels").get<appose::NDArray>();
    if (labels.dtype() != appose::DType::int32 || labels.shape() != image.shape())
      throw std::runtime_error("the worker's label image does not match the input");
    const cv::Mat label_view = appose_examples::mat_view(labels);  // the worker's block, not a copy
    const auto regions = task.outputs().at("regions").get<std::vector<appose::Args>>();

    // Outlines and numbers over the input: one contour set per region, from the label image.
    cv::Mat canvas;
    cv::cvtColor(grey, canvas, cv::COLOR_GRAY2BGR);
    cv::Mat mask;
    for (const appose::Args& r : regions) {
      const int label = r.at("label").get<int>();
      cv::compare(label_view, label, mask, cv::CMP_EQ);
      std::vector<std::vector<cv::Point>> contours;
      cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
      cv::drawContours(canvas, contours, -1, colour(label), 2);
      const cv::Point at(static_cast<int>(r.at("x").get<double>()) - 6,
                         static_cast<int>(r.at("y").get<double>()) + 5);
      cv::putText(canvas, std::to_string(label), at, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                  cv::Scalar(255, 255, 255), 2);
      cv::putText(canvas, std::to_string(label), at, cv::FONT_HERSHEY_SIMPLEX, 0.45, colour(label),
                  1);
    }
    // Compression 9: a smaller file, for a picture written once.
    if (!cv::imwrite(opt.out, canvas, {cv::IMWRITE_PNG_COMPRESSION, 9}))
      throw std::runtime_error("OpenCV cannot write " + opt.out);

    std::printf("Otsu threshold (flattened, smoothed): %.2f\n",
                task.outputs().at("threshold").get<double>());
    std::printf("%5s %7s %8s %8s %9s %6s\n", "label", "area", "x", "y", "diameter", "mean");
    for (const appose::Args& r : regions) {
      std::printf("%5d %7lld %8.1f %8.1f %9.1f %6.1f\n", r.at("label").get<int>(),
                  static_cast<long long>(r.at("area").get<std::int64_t>()), r.at("x").get<double>(),
                  r.at("y").get<double>(), r.at("diameter").get<double>(),
                  r.at("mean").get<double>());
    }
    std::printf("regions: %zu\n", regions.size());
    std::printf("wrote %s (%d x %d)\n", opt.out.c_str(), canvas.cols, canvas.rows);
    return 0;
  } catch (const appose::TaskException& e) {
    std::fprintf(stderr, "the worker's task did not complete: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 1;
}
