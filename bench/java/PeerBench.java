// appose-java's side of bench/compare and bench/task_rtt: appose-java's own Service driving
// appose-python's worker (launched with the same command line the C++ benchmarks use), timed
// inside the JVM, so the figures leave out the JVM's start-up. Run as a single-file program, no
// javac step:
//
//   java -cp <appose-java jars> PeerBench.java <python> JOB [JOB ...]
//
// JOB is one of (the same meaning as in bench/python/peer_bench.py):
//   rtt:ITERATIONS:WARMUP   empty-task round trips on one service, in microseconds
//   startup:RUNS            a fresh service until its first empty task completes (one untimed
//                           run first), in microseconds
//   inflight:TOTAL:WINDOW[:locked]
//                           tasks per second with WINDOW in flight, one rate per WINDOW
//                           completions, the first and last windows left out; fails if the
//                           oldest task stays unfinished for STALL_MS. `locked`: the worker's
//                           print() runs under a lock (see peer_bench.py, LOCKED_WORKER)
// Each job prints one line: the job as given, then its samples, or "!" and why it failed.

import java.io.File;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apposed.appose.Service;
import org.apposed.appose.Service.Task;

public class PeerBench {
  static String python;

  static final String WORKER = "import appose.python_worker; appose.python_worker.main()";
  // The same worker with print() serialised by a lock: without it, responses of concurrent
  // tasks can interleave into one unreadable line (bench/python/peer_bench.py says more).
  static final String LOCKED_WORKER =
      "import builtins, threading\n"
          + "import appose.python_worker as w\n"
          + "lock = threading.Lock()\n"
          + "def locked_print(*args, **kwargs):\n"
          + "    with lock:\n"
          + "        builtins.print(*args, **kwargs)\n"
          + "w.print = locked_print\n"
          + "w.main()";
  // How long the oldest task in flight may stay unfinished (kStall in bench/measure.hpp).
  static final long STALL_MS = 3000;

  static Service service() {
    return service(WORKER);
  }

  static Service service(String code) {
    return new Service(new File("."), python, "-c", code);
  }

  /** Task.waitFor() without a deadline would hang on a lost response; this one gives up. */
  static boolean waitFor(Task task, long ms) throws InterruptedException {
    long end = System.nanoTime() + ms * 1_000_000L;
    synchronized (task) {
      while (!task.status.isFinished()) {
        long left = (end - System.nanoTime()) / 1_000_000L;
        if (left <= 0) return false;
        task.wait(left);
      }
    }
    if (task.status != Service.TaskStatus.COMPLETE) {
      throw new IllegalStateException("task " + task.status + ": " + task.error);
    }
    return true;
  }

  static void stop(Service s) throws InterruptedException {
    s.close();
    s.waitFor();
  }

  static double micros(long t0) {
    return (System.nanoTime() - t0) / 1000.0;
  }

  static List<Double> rtt(int iterations, int warmup) throws Exception {
    Service s = service();
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < iterations + warmup; i++) {
      long t0 = System.nanoTime();
      s.task("None").waitFor();
      double d = micros(t0);
      if (i >= warmup) out.add(d);
    }
    stop(s);
    return out;
  }

  static List<Double> startup(int runs) throws Exception {
    List<Double> out = new ArrayList<>();
    for (int i = 0; i <= runs; i++) {
      long t0 = System.nanoTime();
      Service s = service();
      s.task("None").waitFor();
      double d = micros(t0);
      stop(s);
      if (i > 0) out.add(d);
    }
    return out;
  }

  static List<Double> inflight(int total, int window, boolean locked) throws Exception {
    Service s = service(locked ? LOCKED_WORKER : WORKER);
    s.task("None").waitFor(); // started and warm
    ArrayDeque<Task> ring = new ArrayDeque<>();
    List<Long> done = new ArrayList<>();
    int started = 0;
    while (started < window) {
      ring.add(s.task("None").start());
      started++;
    }
    while (!ring.isEmpty()) {
      if (!waitFor(ring.poll(), STALL_MS)) {
        int invalid = s.invalidLines().size();
        s.kill();
        throw new IllegalStateException(
            String.format(
                "stalled: a task unfinished after %d s, %d of %d completed, %d invalid lines"
                    + " from the worker",
                STALL_MS / 1000, done.size(), total, invalid));
      }
      done.add(System.nanoTime());
      if (started < total) {
        ring.add(s.task("None").start());
        started++;
      }
    }
    stop(s);
    List<Double> rates = new ArrayList<>();
    for (int k = 1; (k + 2) * window <= done.size(); k++) {
      long ns = done.get((k + 1) * window - 1) - done.get(k * window - 1);
      rates.add(window / (ns / 1e9));
    }
    return rates;
  }

  public static void main(String[] args) throws Exception {
    python = args[0];
    for (int a = 1; a < args.length; a++) {
      String[] p = args[a].split(":");
      List<Double> samples;
      try {
        switch (p[0]) {
          case "rtt":
            samples = rtt(Integer.parseInt(p[1]), Integer.parseInt(p[2]));
            break;
          case "startup":
            samples = startup(Integer.parseInt(p[1]));
            break;
          case "inflight":
            samples =
                inflight(
                    Integer.parseInt(p[1]),
                    Integer.parseInt(p[2]),
                    p.length > 3 && p[3].equals("locked"));
            break;
          default:
            throw new IllegalArgumentException("unknown job " + args[a]);
        }
      } catch (Exception e) {
        // Reported to bench/compare, which goes on with the next job.
        System.out.println(args[a] + " ! " + e.toString().replace('\n', ' '));
        System.out.flush();
        continue;
      }
      StringBuilder line = new StringBuilder(args[a]);
      for (double x : samples) line.append(String.format(Locale.ROOT, " %.1f", x));
      System.out.println(line);
      System.out.flush();
    }
    // The services' threads are not all daemons in every appose-java version.
    System.exit(0);
  }
}
