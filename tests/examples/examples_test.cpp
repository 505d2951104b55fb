// The two OpenCV applications of docs/examples.md, run as a user runs them (label `examples`):
//   segment          C++ program, Python worker (scikit-image) in a uv environment it builds
//   filters_worker   C++ worker, driven from Python by examples/filters/client.py
// The environment lives in this build tree (APPOSE_EXAMPLES_ENVS_DIR), built with the peers' uv:
// the first run downloads the packages, later runs find it up to date.

#include <gtest/gtest.h>

#include <appose/appose.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using appose::test::ProcessResult;
using appose::test::run_process;

struct Region {
  int label;
  long area;
  double x, y;
};

// The rows of segment's region table ("label area x y diameter mean").
std::vector<Region> region_table(const std::string& out) {
  static const std::regex row(R"(^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s*$)");
  std::vector<Region> regions;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) {
      regions.push_back({std::stoi(m[1]), std::stol(m[2]), std::stod(m[3]), std::stod(m[4])});
    }
  }
  return regions;
}

// The count segment prints after its table ("regions: N"), or -1.
int region_count(const std::string& out) {
  static const std::regex line(R"(regions: (\d+))");
  std::smatch m;
  return std::regex_search(out, m, line) ? std::stoi(m[1]) : -1;
}

class Examples : public ::testing::Test {
 protected:
  void SetUp() override { APPOSE_REQUIRE_UV(); }

  // segment with `args`, in the build tree's environment directory, with the peers' uv.
  ProcessResult segment(std::vector<std::string> args) {
    args.insert(args.begin(), APPOSE_SEGMENT);
    ProcessResult r = run_process(args);
    std::printf("%s", r.out.c_str());
    return r;
  }

  // The Python of the examples' environment (built first if needed), as segment --python says.
  std::string env_python() {
    ProcessResult r = run_process({APPOSE_SEGMENT, "--python"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string path = r.out.substr(0, r.out.find('\n'));
    EXPECT_TRUE(fs::exists(path)) << path;
    return path;
  }

  appose::test::TempDir dir_{"appose-examples"};
  appose::test::ScopedEnv envs_{"APPOSE_ENVS_DIR", APPOSE_EXAMPLES_ENVS_DIR};
  appose::test::ScopedEnv uv_{"APPOSE_UV", appose::test::peer_uv().value_or("").string()};
  appose::test::ScopedEnv no_downloads_{"UV_PYTHON_DOWNLOADS", "never"};
};

// With no argument, segment asks the worker for scikit-image's coins. There are 24 coins, and the
// pipeline finds all 24 (scikit-image 0.26, SciPy 1.17, as measured when this test was written).
// The range allows one coin more or less for another version's smoothing or threshold, and no
// more: without the background flattening, a global Otsu threshold loses three dark coins and
// keeps a band of background (22 regions, one of 14,000 pixels); an inverted or failed threshold
// gives 0, 1 or hundreds. A coin covers 1,000 to 3,100 pixels here: a region of 5,000 or more is
// background or merged coins, one under min_area (300) should have been dropped.
TEST_F(Examples, SegmentFindsTheCoins) {
  const fs::path png = dir_.path / "segmented.png";
  ProcessResult r = segment({"--out", png.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const int count = region_count(r.out);
  EXPECT_GE(count, 23) << r.out;
  EXPECT_LE(count, 25) << r.out;
  const std::vector<Region> table = region_table(r.out);
  EXPECT_EQ(static_cast<int>(table.size()), count);
  for (const Region& region : table) {
    EXPECT_GE(region.area, 300) << "region " << region.label;
    EXPECT_LT(region.area, 5000) << "region " << region.label;
  }
  // The listener saw the worker's progress, in order, up to the last step.
  EXPECT_NE(r.out.find("progress 1/6: flattening the background"), std::string::npos);
  EXPECT_LT(r.out.find("progress 3/6: Otsu threshold"), r.out.find("progress 6/6: label image"));

  // The picture has the coins' size, as scikit-image itself reports it.
  const ProcessResult shape =
      run_process({env_python(), "-c", "from skimage import data; print(*data.coins().shape)"});
  ASSERT_EQ(shape.exit_code, 0) << shape.err;
  int rows = 0;
  int cols = 0;
  ASSERT_EQ(std::sscanf(shape.out.c_str(), "%d %d", &rows, &cols), 2) << shape.out;
  const cv::Mat picture = cv::imread(png.string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(picture.empty()) << png;
  EXPECT_EQ(picture.rows, rows);
  EXPECT_EQ(picture.cols, cols);
  EXPECT_EQ(picture.channels(), 3);  // the outlines are in colour over the grey input
}

// An image file goes through OpenCV into shared memory: nine bright discs on an uneven, noisy
// background are nine regions, each centred on its disc.
TEST_F(Examples, SegmentReadsAFileWithOpenCV) {
  const cv::Size size(480, 360);
  cv::Mat image(size, CV_8UC1);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x)
      image.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(30 + x / 8 + y / 12);
  std::vector<cv::Point> centres;
  for (int i = 0; i < 9; ++i) {
    centres.emplace_back(80 + (i % 3) * 160, 60 + (i / 3) * 120);
    cv::circle(image, centres.back(), 20 + 3 * i, cv::Scalar(200), cv::FILLED);
  }
  cv::Mat noise(size, CV_8UC1);
  cv::randn(noise, 0, 8);
  cv::add(image, noise, image);
  const fs::path input = dir_.path / "discs.png";
  ASSERT_TRUE(cv::imwrite(input.string(), image));

  const fs::path png = dir_.path / "discs-segmented.png";
  ProcessResult r = segment({input.string(), "--out", png.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(region_count(r.out), 9) << r.out;
  const std::vector<Region> table = region_table(r.out);
  ASSERT_EQ(table.size(), 9U) << r.out;
  for (const cv::Point& c : centres) {
    const bool found = std::any_of(table.begin(), table.end(), [&](const Region& region) {
      return std::hypot(region.x - c.x, region.y - c.y) < 2.0;
    });
    EXPECT_TRUE(found) << "no region centred at " << c.x << "," << c.y << "\n" << r.out;
  }
  const cv::Mat picture = cv::imread(png.string());
  ASSERT_FALSE(picture.empty()) << png;
  EXPECT_EQ(picture.size(), size);
}

TEST_F(Examples, SegmentReportsAnUnreadableImage) {
  const fs::path input = dir_.path / "not-an-image.png";
  std::FILE* f = std::fopen(input.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("plain text", f);
  std::fclose(f);
  ProcessResult r = segment({input.string(), "--out", (dir_.path / "x.png").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("OpenCV cannot read"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.path / "x.png"));
}

// appose-python's Service drives the C++ worker on a 4096 x 4096 image; client.py compares
// every result with SciPy/scikit-image and exits 1 on a mismatch. Its timing table is printed.
TEST_F(Examples, FiltersClientMatchesSciPy) {
  const std::string python = env_python();
  ProcessResult r = run_process({python, APPOSE_FILTERS_CLIENT, APPOSE_FILTERS_WORKER});
  std::printf("%s", r.out.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* op : {"gaussian_blur", "distance_transform", "connected_components", "resize"})
    EXPECT_NE(r.out.find("| " + std::string(op) + " |"), std::string::npos) << op;
}

// The worker refuses an output array it cannot write the result into, and says why, instead of
// letting OpenCV allocate a buffer of its own (the caller would see an unchanged array).
TEST(FiltersWorker, RefusesAMismatchedOutputOrInput) {
  appose::ServiceConfig config;
  config.command = {APPOSE_FILTERS_WORKER};
  appose::Service worker(config);
  appose::NDArray image(appose::DType::float32, appose::Shape{64, 48});
  appose::NDArray wrong(appose::DType::float32, appose::Shape{48, 64});
  appose::Task task =
      worker.task("gaussian_blur", {{"image", image}, {"sigma", 1.5}, {"out", wrong}});
  EXPECT_THROW(task.wait_for(), appose::TaskException);
  EXPECT_NE(task.error().value_or("").find("out must be a float32 array of the result's shape"),
            std::string::npos)
      << task.error().value_or("");

  appose::NDArray mask(appose::DType::float32, appose::Shape{64, 48});
  appose::Task typed = worker.task("distance_transform", {{"mask", mask}});
  EXPECT_THROW(typed.wait_for(), appose::TaskException);
  EXPECT_NE(typed.error().value_or("").find("mask must be a 2-D uint8 array"), std::string::npos)
      << typed.error().value_or("");
}

}  // namespace
