// A native C++ Appose worker. Any Appose service (C++, Python, Java) can drive it: the
// request's script names the operation.
//
//   sum          inputs: data (NDArray float32/float64)  outputs: total
//   scale        inputs: data (NDArray float32), factor   scales data in place (zero copy)
//   steps        inputs: n                                n UPDATEs; stops early when canceled
//   wait_cancel  -                                        runs, silent, until canceled
//   sleep        inputs: us                               sleeps that many microseconds, silent;
//                                                         outputs: slept (= us)
//   make         inputs: n                                outputs: array, a new float64 NDArray
//                                                         0..n-1 (handed over to the host)
//   fail         inputs: message                          fails with that message
//   crash        inputs: code                             exits the process at once
//   noop         -                                        nothing (for round-trip timing)
//   main_thread  -                                        outputs: on_main, whether it ran on
//                                                         the thread that called run()
//   noop_immediate, main_thread_immediate                 as noop and main_thread, but run on
//                                                         the reader thread, with no hand-off
//                                                         (appose::Dispatch::immediate)
//   chatter      -                                        writes to std::cout, printf and a
//                                                         child's stdout: none of it reaches
//                                                         the protocol

#include <appose/worker.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <thread>

int main() {
  appose::Worker worker;
  const std::thread::id main_thread = std::this_thread::get_id();

  worker.define("sum", [](appose::WorkerTask& task) {
    auto data = task.inputs().at("data").get<appose::NDArray>();
    double total = 0;
    if (data.dtype() == appose::DType::float64) {
      for (double x : data.span<double>())
        total += x;
    } else {
      for (float x : data.span<float>())
        total += static_cast<double>(x);
    }
    task.outputs()["total"] = total;
  });

  worker.define("scale", [](appose::WorkerTask& task) {
    auto data = task.inputs().at("data").get<appose::NDArray>();
    auto factor = task.inputs().at("factor").get<float>();
    for (float& x : data.span<float>())
      x *= factor;
    task.outputs()["scaled"] = static_cast<std::int64_t>(data.size());
  });

  worker.define("steps", [](appose::WorkerTask& task) {
    auto n = task.inputs().at("n").get<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (task.cancel_requested()) {
        task.cancel();
        return;
      }
      task.update("step " + std::to_string(i + 1), i + 1, n);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    task.outputs()["done"] = n;
  });

  // Sends nothing while it runs, as many real operations do between their LAUNCH and their
  // end; cancel_requested() is only a flag, so it is looked at every millisecond.
  worker.define("wait_cancel", [](appose::WorkerTask& task) {
    while (!task.cancel_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    task.cancel();
  });

  worker.define("sleep", [](appose::WorkerTask& task) {
    const auto us = task.inputs().at("us").get<std::int64_t>();
    std::this_thread::sleep_for(std::chrono::microseconds(us));
    task.outputs()["slept"] = us;
  });

  worker.define("make", [](appose::WorkerTask& task) {
    auto n = task.inputs().at("n").get<std::uint64_t>();
    appose::NDArray out(appose::DType::float64, appose::Shape{n});
    auto values = out.span<double>();
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = static_cast<double>(i);
    task.outputs()["array"] = out;
  });

  worker.define("fail", [](appose::WorkerTask& task) {
    throw std::runtime_error(task.inputs().at("message").get<std::string>());
  });

  worker.define("crash", [](appose::WorkerTask& task) {
    // delay_ms: exit only after the host has surely read the LAUNCH. appose-python 0.12 marks
    // a task crashed from one thread and applies the LAUNCH from another, so a LAUNCH it reads
    // after the exit turns CRASHED back into RUNNING for good.
    if (const appose::Value* delay = task.inputs().find("delay_ms")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay->get<int>()));
    }
    std::fflush(nullptr);
    std::_Exit(task.inputs().at("code").get<int>());
  });

  worker.define("noop", [](appose::WorkerTask&) {});

  worker.define("main_thread", [main_thread](appose::WorkerTask& task) {
    task.outputs()["on_main"] = std::this_thread::get_id() == main_thread;
  });

  // Operations that finish in microseconds save a thread hand-off per task by running where
  // the request is read.
  worker.define(
      "noop_immediate", [](appose::WorkerTask&) {}, appose::Dispatch::immediate);
  worker.define(
      "main_thread_immediate",
      [main_thread](appose::WorkerTask& task) {
        task.outputs()["on_main"] = std::this_thread::get_id() == main_thread;
      },
      appose::Dispatch::immediate);

  worker.define("chatter", [](appose::WorkerTask& task) {
    std::cout << "chatter via std::cout" << std::endl;
    std::printf("chatter via printf\n");
    std::fflush(stdout);
    task.outputs()["system"] = std::system("echo chatter via a child process");
  });

  // Optional inputs with defaults.
  worker.define("greet", [](appose::WorkerTask& task) {
    const auto times = task.input_or("times", std::int64_t{1});
    std::string text;
    for (std::int64_t i = 0; i < times; ++i)
      text += task.input_or("greeting", "hello") + ", " + task.input_or("name", "world") + "!";
    task.outputs()["text"] = text;
  });

  return worker.run();
}
