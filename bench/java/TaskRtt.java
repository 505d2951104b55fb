// appose-java's own Service driving appose-python's worker: empty-task round trips, timed
// inside Java, printed as one line of microseconds. Run by bench/task_rtt as a single-file
// program: java -cp <appose-java jars> TaskRtt.java <python> <iterations>

import java.io.File;
import org.apposed.appose.Service;

public class TaskRtt {
  public static void main(String[] args) throws Exception {
    String python = args[0];
    int iterations = Integer.parseInt(args[1]);
    Service service =
        new Service(
            new File("."),
            python,
            "-c",
            "import appose.python_worker; appose.python_worker.main()");
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < iterations; i++) {
      long t0 = System.nanoTime();
      service.task("None").waitFor();
      double us = (System.nanoTime() - t0) / 1000.0;
      if (i >= 20) out.append(String.format("%.1f ", us));
    }
    service.close();
    System.out.println(out.toString().trim());
    System.exit(0);
  }
}
