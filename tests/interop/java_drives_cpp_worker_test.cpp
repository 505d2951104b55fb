// appose-java's own Service (0.9.0, the peer in .peers/java) drives the native C++ worker
// worker_ops: tests/interop/java/DriveCppWorker.java runs sum, steps, fail, make and crash
// through org.apposed.appose.Service and prints "ALL OK" when every check passes.
//
// worker_ops sends HELLO first; 0.9.0 predates it, logs it as an invalid service message (to
// its debug sink only) and carries on, so no APPOSE_WORKER_HELLO=0 is needed.

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.hpp"

#ifndef APPOSE_TEST_JAVA_SOURCE_DIR
#error "APPOSE_TEST_JAVA_SOURCE_DIR must name tests/interop/java"
#endif

namespace appose {
namespace {

TEST(JavaServiceDrivesCppWorker, AllOperations) {
  APPOSE_REQUIRE_JAVA_PEER();
#ifndef APPOSE_WORKER_OPS
  GTEST_SKIP() << "*** SKIPPED: worker_ops not built (APPOSE_BUILD_EXAMPLES=OFF) ***";
#else
  std::ostringstream cp;
  const auto jars = *test::peer_java_classpath();
  for (std::size_t i = 0; i < jars.size(); ++i)
    cp << (i ? ":" : "") << jars[i];
  const std::vector<std::string> argv = {
      "java", "-cp", cp.str(), std::string(APPOSE_TEST_JAVA_SOURCE_DIR) + "/DriveCppWorker.java",
      APPOSE_WORKER_OPS};
  auto r = test::run_process(argv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ALL OK"), std::string::npos) << r.out << r.err;
#endif
}

}  // namespace
}  // namespace appose
