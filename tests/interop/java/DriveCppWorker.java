// appose-java's own Service drives the native C++ worker worker_ops (examples/worker_ops.cpp),
// run by tests/interop/java_drives_cpp_worker_test.cpp.
// Run as a single-file program: java -cp <appose-java jars> DriveCppWorker.java <worker_ops>
//
// Checks, in order (crash last: it ends the worker):
//   sum    of a float32 NDArray made and filled here        -> the right total
//   steps  n=5 with a listener                              -> 5 UPDATEs, then COMPLETE
//   fail   message "boom"                                   -> FAILED, "std::runtime_error: boom"
//   make   n=4                                              -> a float64 NDArray 0..3, which this
//                                                              side (the host) then unlinks
//   crash  code 5                                           -> CRASHED
// Prints one line per check and "ALL OK" at the end; exits 1 on any failure, 2 if it has not
// finished within 30 s.

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apposed.appose.NDArray;
import org.apposed.appose.Service;
import org.apposed.appose.TaskEvent;

public class DriveCppWorker {
  static final List<String> failures = new ArrayList<>();

  /// Blocks this side owns and has not closed yet: a shutdown hook unlinks them, so even the
  /// watchdog's System.exit leaves nothing in /dev/shm.
  static final Set<NDArray> owned = ConcurrentHashMap.newKeySet();

  static void release(NDArray a) {
    owned.remove(a);
    a.close();
  }

  static void check(String name, boolean ok, String detail) {
    System.out.println((ok ? "ok   " : "FAIL ") + name + ": " + detail);
    if (!ok) failures.add(name);
  }

  static Map<String, Object> inputs(Object... kv) {
    Map<String, Object> m = new HashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }

  public static void main(String[] args) throws Exception {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  for (NDArray a : owned) {
                    try {
                      a.shm().unlink();
                    } catch (Throwable t) {
                      System.out.println("FAIL cleanup: " + a.shm().name() + ": " + t);
                    }
                  }
                }));
    Thread watchdog =
        new Thread(
            () -> {
              try {
                Thread.sleep(30_000);
              } catch (InterruptedException e) {
                return;
              }
              System.out.println("FAIL watchdog: not done within 30 s");
              System.out.flush();
              System.exit(2);
            });
    watchdog.setDaemon(true);
    watchdog.start();

    if (args.length != 1) {
      System.err.println("usage: DriveCppWorker.java <path-to-worker_ops>");
      System.exit(1);
    }
    Service service = new Service(new File("."), args[0]);
    // 0.9.0 predates HELLO (the first line worker_ops sends): keep its debug output to show what
    // it made of it.
    List<String> debug = java.util.Collections.synchronizedList(new ArrayList<>());
    service.debug(debug::add);
    try {
      run(service);
    } catch (Throwable t) {
      t.printStackTrace(System.out);
      failures.add("exception: " + t);
    } finally {
      service.close();
    }
    List<String> invalid = service.invalidLines();
    List<String> errors = service.errorLines();
    System.out.println("info invalid lines from the worker: " + invalid);
    System.out.println("info stderr lines from the worker: " + errors);
    synchronized (debug) {
      for (String line : debug) {
        if (line.contains("HELLO")) System.out.println("info service debug: " + line);
      }
    }

    if (failures.isEmpty()) {
      System.out.println("ALL OK");
      System.out.flush();
      System.exit(0);
    }
    System.out.println("FAILED: " + failures);
    System.out.flush();
    System.exit(1);
  }

  static void run(Service service) throws Exception {
    // sum: an NDArray this side creates and fills through its buffer.
    int n = 1000;
    NDArray data =
        new NDArray(
            NDArray.DType.FLOAT32, new NDArray.Shape(NDArray.Shape.Order.C_ORDER, 10, n / 10));
    owned.add(data);
    try {
      data.shm().unlinkOnClose(true);
      ByteBuffer b = data.buffer().order(ByteOrder.nativeOrder());
      double expected = 0;
      for (int i = 0; i < n; i++) {
        float v = i * 0.5f;
        b.putFloat(4 * i, v);
        expected += v;
      }
      Service.Task sum = service.task("sum", inputs("data", data)).waitFor();
      Object total = sum.outputs.get("total");
      check(
          "sum",
          sum.status == Service.TaskStatus.COMPLETE
              && total instanceof Number
              && Math.abs(((Number) total).doubleValue() - expected) < 1e-6,
          "status " + sum.status + ", total " + total + " (expected " + expected + ")");
    } finally {
      release(data);
    }

    // steps: a listener sees 5 UPDATEs.
    AtomicInteger updates = new AtomicInteger();
    AtomicInteger completions = new AtomicInteger();
    Service.Task steps = service.task("steps", inputs("n", 5));
    steps.listen(
        (TaskEvent e) -> {
          if (e.responseType == Service.ResponseType.UPDATE) updates.incrementAndGet();
          if (e.responseType == Service.ResponseType.COMPLETION) completions.incrementAndGet();
        });
    steps.waitFor();
    Object done = steps.outputs.get("done");
    check(
        "steps",
        steps.status == Service.TaskStatus.COMPLETE
            && updates.get() == 5
            && completions.get() == 1
            && done instanceof Number
            && ((Number) done).longValue() == 5,
        "status " + steps.status + ", " + updates.get() + " updates, done " + done);

    // fail: the exception's type and message reach error.
    Service.Task fail = service.task("fail", inputs("message", "boom")).waitFor();
    check(
        "fail",
        fail.status == Service.TaskStatus.FAILED
            && fail.error != null
            && fail.error.contains("std::runtime_error: boom"),
        "status " + fail.status + ", error " + fail.error);

    // An immediate operation (Dispatch::immediate): LAUNCH and COMPLETION in one write.
    Service.Task quick = service.task("main_thread_immediate").waitFor();
    check(
        "immediate",
        quick.status == Service.TaskStatus.COMPLETE
            && Boolean.FALSE.equals(quick.outputs.get("on_main")),
        "status " + quick.status + ", outputs " + quick.outputs);

    // make: the worker creates the block and hands it over; this side unlinks it.
    Service.Task make = service.task("make", inputs("n", 4)).waitFor();
    Object array = make.outputs.get("array");
    if (array instanceof NDArray) {
      NDArray a = (NDArray) array;
      String name = a.shm().name();
      owned.add(a);
      try {
        a.shm().unlinkOnClose(true); // the host owns it now
        ByteBuffer b = a.buffer().order(ByteOrder.nativeOrder());
        boolean ok =
            make.status == Service.TaskStatus.COMPLETE
                && a.dType() == NDArray.DType.FLOAT64
                && a.shape().length() == 1
                && a.shape().get(0) == 4;
        StringBuilder values = new StringBuilder();
        for (int i = 0; i < 4; i++) {
          double v = b.getDouble(8 * i);
          values.append(i == 0 ? "" : " ").append(v);
          if (v != i) ok = false;
        }
        check(
            "make",
            ok,
            "status " + make.status + ", " + a.dType() + " " + a.shape() + " [" + values + "]");
      } finally {
        release(a);
      }
      boolean gone = !new File("/dev/shm/" + name.replaceFirst("^/", "")).exists();
      check("make-unlink", gone, "/dev/shm/" + name + (gone ? " unlinked" : " left behind"));
    } else {
      check("make", false, "status " + make.status + ", array " + array + ", error " + make.error);
    }

    // crash: the worker exits with code 5.
    Service.Task crash = service.task("crash", inputs("code", 5)).waitFor();
    check(
        "crash",
        crash.status == Service.TaskStatus.CRASHED,
        "status " + crash.status + ", error " + crash.error);
  }
}
