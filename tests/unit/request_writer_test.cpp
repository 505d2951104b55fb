// RequestWriter: the order and wholeness of a service's requests, the batching of tasks in
// flight (src/host/request_writer.hpp), and the close that waits for what is queued. The
// callbacks here record what a worker's stdin would receive, and on which thread.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#endif

#include "appose/error.hpp"
#include "host/request_writer.hpp"

namespace appose::detail {
namespace {

/// What the worker's stdin got: every write, the thread that made it, and where the close
/// came. A write can be held at a gate, so that lines queue behind it.
class Stdin {
 public:
  RequestWriter::Write write() {
    return [this](std::string_view bytes) -> std::error_code {
      std::unique_lock lock(mu_);
      entered_ = true;
      entered_cv_.notify_all();
      gate_cv_.wait(lock, [&] { return open_; });
      writes_.emplace_back(bytes);
      threads_.push_back(std::this_thread::get_id());
      if (closed_) return std::make_error_code(std::errc::broken_pipe);
      return fail_ ? std::make_error_code(std::errc::broken_pipe) : std::error_code();
    };
  }
  RequestWriter::Close close() {
    return [this] {
      std::lock_guard lock(mu_);
      closed_ = true;
      close_after_ = writes_.size();
    };
  }

  void hold() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    gate_cv_.notify_all();
  }
  void fail() {
    std::lock_guard lock(mu_);
    fail_ = true;
  }
  /// Waits until a write has begun (after hold(), it then waits at the gate).
  void wait_for_a_write() {
    std::unique_lock lock(mu_);
    entered_cv_.wait(lock, [&] { return entered_; });
  }
  [[nodiscard]] std::string all() {
    std::lock_guard lock(mu_);
    std::string text;
    for (const auto& w : writes_)
      text += w;
    return text;
  }
  [[nodiscard]] std::size_t writes() {
    std::lock_guard lock(mu_);
    return writes_.size();
  }
  [[nodiscard]] std::vector<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }
  [[nodiscard]] bool closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }
  /// How many writes came before the close.
  [[nodiscard]] std::size_t close_after() {
    std::lock_guard lock(mu_);
    return close_after_;
  }

 private:
  std::mutex mu_;
  std::condition_variable gate_cv_, entered_cv_;
  bool open_ = true;
  bool entered_ = false;
  bool fail_ = false;
  bool closed_ = false;
  std::size_t close_after_ = 0;
  std::vector<std::string> writes_;
  std::vector<std::thread::id> threads_;
};

/// Whether `done()` comes true within 10 s (it is checked every millisecond).
template <class Done>
bool eventually(Done done) {
  for (int i = 0; i < 10000 && !done(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return done();
}

std::string line(int i) {
  return "{\"task\":\"" + std::to_string(i) + "\"}\n";
}

/// A caller's own write of line 0, started and held at the gate: what is sent meanwhile queues
/// behind it. The returned thread ends once the gate opens.
std::thread hold_a_write(Stdin& in, RequestWriter& writer) {
  in.hold();
  std::thread first([&writer] { writer.send(line(0), false); });
  in.wait_for_a_write();
  return first;
}

TEST(RequestWriter, OneRequestAtATimeIsWrittenByTheCallerAtOnce) {
  Stdin in;
  RequestWriter writer(in.write(), in.close(), [](std::error_code) {});
  writer.send(line(1), false);
  writer.send(line(2), false);
  EXPECT_EQ(in.all(), line(1) + line(2));
  EXPECT_EQ(in.threads(), std::vector<std::thread::id>(2, std::this_thread::get_id()));
}

TEST(RequestWriter, TasksInFlightGoOutInBatchesInOrder) {
  Stdin in;
  RequestWriter writer(in.write(), in.close(), [](std::error_code) {});
  std::thread first = hold_a_write(in, writer);
  std::string expected = line(0);
  for (int i = 1; i <= 100; ++i) {
    writer.send(line(i), true);
    expected += line(i);
  }
  in.open();
  first.join();
  writer.close();  // waits for nothing: the close is made once the queue is written
  ASSERT_TRUE(eventually([&] { return in.closed(); }));
  EXPECT_EQ(in.all(), expected);
  // The 100 queued behind the held write went out together, from the writer's thread.
  EXPECT_EQ(in.writes(), 2U);
  EXPECT_NE(in.threads().back(), std::this_thread::get_id());
  EXPECT_EQ(in.close_after(), 2U) << "stdin was closed before the queued requests were written";
}

TEST(RequestWriter, ALineSentWhileOthersWaitJoinsThemInsteadOfOvertaking) {
  Stdin in;
  RequestWriter writer(in.write(), in.close(), [](std::error_code) {});
  std::thread first = hold_a_write(in, writer);
  writer.send(line(1), true);
  writer.send(line(2), false);  // not batched, but must come after line 1
  in.open();
  first.join();
  EXPECT_TRUE(eventually([&] { return in.all() == line(0) + line(1) + line(2); })) << in.all();
}

TEST(RequestWriter, ConcurrentSendersKeepTheirOrderAndWholeLines) {
  Stdin in;
  {
    RequestWriter writer(in.write(), in.close(), [](std::error_code) {});
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&writer, t] {
        for (int i = 0; i < 500; ++i)
          writer.send(line(t * 1000 + i), i % 3 != 0);
      });
    }
    for (auto& s : senders)
      s.join();
    writer.close();
    ASSERT_TRUE(eventually([&] { return in.closed(); }));
  }
  const std::string text = in.all();
  std::vector<int> next(4, 0);
  std::size_t lines = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = text.find('\n', at);
    ASSERT_NE(end, std::string::npos);
    const std::string one = text.substr(at, end - at + 1);
    const int id = std::stoi(one.substr(9));
    ASSERT_EQ(one, line(id)) << "a line was cut or glued to another";
    EXPECT_EQ(id % 1000, next[static_cast<std::size_t>(id / 1000)]++)
        << "sender " << id / 1000 << " out of order";
    ++lines;
    at = end + 1;
  }
  EXPECT_EQ(lines, 2000U);
}

TEST(RequestWriter, ABatchedSendWaitsForRoomWhenTheQueueIsFull) {
  // As a write waits for a full pipe: a worker that reads slower than its caller sends does
  // not grow the host's queue without bound.
  Stdin in;
  RequestWriter writer(in.write(), in.close(), [](std::error_code) {});
  std::thread first = hold_a_write(in, writer);
  const std::string big(RequestWriter::kQueueLimit / 2, 'x');
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int i = 0; i < 4; ++i) {
      writer.send(big + "\n", true);
      ++sent;
    }
  });
  ASSERT_TRUE(eventually([&] { return sent.load() >= 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // room for a third, were it let
  EXPECT_EQ(sent.load(), 2) << "the queue grew past its limit";
  writer.send(line(1), false);  // unbatched: queued behind, never waits for room
  in.open();
  first.join();
  sender.join();
  EXPECT_EQ(sent.load(), 4);
  writer.close();
  ASSERT_TRUE(eventually([&] { return in.closed(); }));
  const std::string all = in.all();
  EXPECT_EQ(all.size(), line(0).size() + 4 * (big.size() + 1) + line(1).size());
  EXPECT_EQ(all.substr(0, line(0).size()), line(0));
}

TEST(RequestWriter, AClosedWriterRefusesLinesUntilReset) {
  Stdin in;
  RequestWriter writer(in.write(), in.close(), [](std::error_code) {});
  writer.close();
  EXPECT_TRUE(in.closed());
  EXPECT_TRUE(writer.closed());
  EXPECT_THROW(writer.send(line(1), false), Error);
  EXPECT_THROW(writer.send(line(1), true), Error);
  writer.reset();
  EXPECT_FALSE(writer.closed());
  EXPECT_NO_THROW(writer.send(line(2), false));
}

TEST(RequestWriter, AFailedWriteIsReportedWhicheverThreadMadeIt) {
  Stdin in;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::error_code> failures;
  RequestWriter writer(in.write(), in.close(), [&](std::error_code ec) {
    std::lock_guard lock(mu);
    failures.push_back(ec);
    cv.notify_all();
  });
  in.fail();
  writer.send(line(1), false);
  writer.send(line(2), true);
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return failures.size() == 2; }));
  EXPECT_EQ(failures[0], std::errc::broken_pipe);
  EXPECT_EQ(failures[1], std::errc::broken_pipe);
}

#if defined(__linux__)
TEST(RequestWriter, ItsThreadWaitsForTheCallerThatWokeItWithTheSameShareOfTheCpu) {
  // On one CPU, a writer's thread that preempted its caller wrote one line per wake-up
  // (platform/thread_policy.hpp). SCHED_BATCH keeps it from preempting; its nice value, and
  // so its share of the CPU, must stay the caller's.
  std::mutex mu;
  std::condition_variable cv;
  int policy = -1;
  int nice = 100;
  const std::thread::id caller = std::this_thread::get_id();
  RequestWriter writer(
      [&](std::string_view) {
        std::lock_guard lock(mu);
        if (std::this_thread::get_id() != caller) {
          policy = sched_getscheduler(0);
          nice = getpriority(PRIO_PROCESS, 0);  // the calling thread's, on Linux
          cv.notify_all();
        }
        return std::error_code();
      },
      [] {}, [](std::error_code) {});
  writer.send(line(1), true);  // queued: written by the writer's thread
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return policy != -1; }));
  EXPECT_EQ(policy, SCHED_BATCH);
  EXPECT_EQ(nice, getpriority(PRIO_PROCESS, 0)) << "the writer's share of the CPU changed";
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER) << "the caller's own policy changed";
}
#endif

}  // namespace
}  // namespace appose::detail
