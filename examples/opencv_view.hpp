#pragma once

// A cv::Mat over an appose::NDArray's elements, shared by the OpenCV examples (segment,
// filters): OpenCV then reads and writes the shared-memory block itself, which another process
// sees at the same time, instead of a copy.

#include <appose/ndarray.hpp>

#include <opencv2/core.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace appose_examples {

/// The OpenCV element type (CV_8U, CV_32S, CV_32F...) of an array's dtype; throws
/// std::invalid_argument for dtypes OpenCV has no single-channel type for (int64, complex...).
inline int cv_depth(appose::DType dtype) {
  switch (dtype) {
    case appose::DType::uint8:
      return CV_8U;
    case appose::DType::int8:
      return CV_8S;
    case appose::DType::uint16:
      return CV_16U;
    case appose::DType::int16:
      return CV_16S;
    case appose::DType::int32:
      return CV_32S;
    case appose::DType::float32:
      return CV_32F;
    case appose::DType::float64:
      return CV_64F;
    default:
      throw std::invalid_argument("OpenCV has no element type for " +
                                  std::string(appose::dtype_name(dtype)) + " arrays");
  }
}

/// A single-channel cv::Mat header over a 2-D array (rows = shape[0], columns = shape[1], C
/// order, as NumPy lays images out). Nothing is copied or allocated: the array must outlive the
/// Mat, and an OpenCV function given the Mat as its output writes into the block as long as the
/// size and type it wants are these (otherwise OpenCV would allocate a buffer of its own, which
/// the callers here rule out by checking shapes first). Throws std::invalid_argument for a
/// rank other than 2, a dimension beyond int, or a dtype without an OpenCV type.
inline cv::Mat mat_view(const appose::NDArray& array) {
  const std::vector<std::uint64_t> dims = array.shape().c_dims();
  if (dims.size() != 2)
    throw std::invalid_argument("expected a 2-D array, got rank " + std::to_string(dims.size()));
  constexpr std::uint64_t kMaxDim = 1U << 30;
  if (dims[0] > kMaxDim || dims[1] > kMaxDim)
    throw std::invalid_argument("array too large for a cv::Mat");
  return {static_cast<int>(dims[0]), static_cast<int>(dims[1]),
          CV_MAKETYPE(cv_depth(array.dtype()), 1), array.bytes().data()};
}

}  // namespace appose_examples
