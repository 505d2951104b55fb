// Shared-memory interop with appose-java, driven by tests/interop/groovy_service_test.cpp.
// Run as a single-file program: java -cp <appose-java jars> ShmInterop.java <mode> args...
//
//   check <name> <rsize> <dtype> <C|F> <dims...>
//       Attaches to a block the C++ side created, views it as an NDArray, checks that element i
//       (in memory order) equals expected(dtype, i), then writes written(dtype, i) into it.
//       Prints "OK <C-order dims>" and exits 0, or prints "BAD ..." and exits 1.
//   create <dtype> <count>
//       Creates a block holding <count> elements of expected(dtype, i), makes sure closing it
//       does not unlink it (the C++ side takes it over), closes it and prints "<name> <rsize>".
//
// The values: float32 expected = i * 1.5, written = -i * 0.25;
//             int32   expected = 3 * i - 7, written = 1000 - i.

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.apposed.appose.NDArray;
import org.apposed.appose.SharedMemory;

public class ShmInterop {
  static NDArray.DType dtype(String label) {
    return NDArray.DType.fromLabel(label);
  }

  static double expected(NDArray.DType t, int i) {
    return t == NDArray.DType.FLOAT32 ? i * 1.5 : 3.0 * i - 7;
  }

  static double written(NDArray.DType t, int i) {
    return t == NDArray.DType.FLOAT32 ? -i * 0.25 : 1000.0 - i;
  }

  static double read(ByteBuffer b, NDArray.DType t, int i) {
    return t == NDArray.DType.FLOAT32 ? b.getFloat(4 * i) : b.getInt(4 * i);
  }

  static void write(ByteBuffer b, NDArray.DType t, int i, double v) {
    if (t == NDArray.DType.FLOAT32) {
      b.putFloat(4 * i, (float) v);
    } else {
      b.putInt(4 * i, (int) v);
    }
  }

  static int check(String[] args) throws Exception {
    String name = args[1];
    long rsize = Long.parseLong(args[2]);
    NDArray.DType t = dtype(args[3]);
    NDArray.Shape.Order order =
        args[4].equals("F") ? NDArray.Shape.Order.F_ORDER : NDArray.Shape.Order.C_ORDER;
    int[] dims = new int[args.length - 5];
    for (int i = 0; i < dims.length; i++) dims[i] = Integer.parseInt(args[5 + i]);
    SharedMemory shm = SharedMemory.attach(name, rsize);
    NDArray array = new NDArray(t, new NDArray.Shape(order, dims), shm);
    ByteBuffer b = array.buffer().order(ByteOrder.nativeOrder());
    int n = (int) array.shape().numElements();
    for (int i = 0; i < n; i++) {
      double v = read(b, t, i);
      if (v != expected(t, i)) {
        System.out.println("BAD element " + i + ": " + v + " != " + expected(t, i));
        return 1;
      }
    }
    for (int i = 0; i < n; i++) write(b, t, i, written(t, i));
    String cdims = Arrays.toString(array.shape().toIntArray(NDArray.Shape.Order.C_ORDER));
    // Attached, not created: closing must only unmap (the C++ side owns the name).
    array.close();
    System.out.println("OK " + cdims.replaceAll("[\\[\\],]", ""));
    return 0;
  }

  static int create(String[] args) throws Exception {
    NDArray.DType t = dtype(args[1]);
    int n = Integer.parseInt(args[2]);
    SharedMemory shm = SharedMemory.create((long) n * t.bytesPerElement());
    ByteBuffer b = shm.buf().order(ByteOrder.nativeOrder());
    for (int i = 0; i < n; i++) write(b, t, i, expected(t, i));
    shm.unlinkOnClose(false);
    String name = shm.name();
    long rsize = shm.rsize();
    shm.close();
    System.out.println(name + " " + rsize);
    return 0;
  }

  public static void main(String[] args) throws Exception {
    int rc;
    switch (args.length > 0 ? args[0] : "") {
      case "check":
        rc = check(args);
        break;
      case "create":
        rc = create(args);
        break;
      default:
        System.err.println("usage: ShmInterop check|create ...");
        rc = 2;
    }
    System.exit(rc);
  }
}
