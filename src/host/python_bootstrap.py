import os, sys, threading


def _appose_main():
    proto_in = os.dup(0)  # os.dup: non-inheritable (PEP 446), so exec'd children never get it
    proto_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    plain_stdout = sys.stdout
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace",
                      buffering=1, closefd=False)
    _watch_parent()

    import builtins
    import appose.python_worker as worker

    def names(fn):
        return getattr(getattr(fn, "__code__", None), "co_names", ())

    fits = ("input" in names(getattr(getattr(worker, "Worker", None), "_process_input", None))
            and "print" in names(getattr(getattr(worker, "Task", None), "_respond", None))
            and callable(getattr(worker, "main", None)))
    if not fits:
        os.dup2(proto_in, 0)
        os.dup2(proto_out, 1)
        sys.stdout = plain_stdout
        sys.stderr.write("[appose-cpp] this appose.python_worker does not read with input() and "
                         "write with print(); using the plain stdin/stdout contract\n")
        sys.stderr.flush()
        worker.main()
        return

    reader = open(proto_in, "r", encoding="utf-8", errors="replace", newline="\n")
    writer = open(proto_out, "w", encoding="utf-8", newline="\n")
    lock = threading.Lock()

    reading = []

    def protocol_input(prompt=None):
        reading.append(True)
        line = reader.readline()
        if not line:
            raise EOFError
        return line[:-1] if line.endswith("\n") else line

    def protocol_print(*args, sep=None, end=None, file=None, flush=False):
        if file is not None and file is not sys.stdout:
            text = " ".join(map(str, args))
            if not reading and text.startswith("[WARNING]") and (
                    "numpy" in text or "apposed/appose/issues/23" in text):
                return  # the Windows-only numpy warning main() prints before it reads
            builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
            return
        text = (" " if sep is None else sep).join(map(str, args))
        text += "\n" if end is None else end
        with lock:  # one whole line per write: concurrent tasks never glue their responses
            writer.write(text)
            if flush or text.endswith("\n"):
                writer.flush()

    worker.input = protocol_input
    worker.print = protocol_print
    _take_over_init(worker)
    worker.main()


def _take_over_init(worker):
    path = os.environ.pop("APPOSE_INIT_SCRIPT", None)  # main() then skips it
    if not path or not os.path.exists(path):
        return
    import traceback

    class InitWorker(worker.Worker):
        def __init__(self):
            super().__init__()
            namespace = {}
            try:
                with open(path, "r", encoding="utf-8") as f:
                    code = compile(f.read(), "<init script>", "exec")
                exec(code, namespace)
            except BaseException as e:
                failure = traceback.format_exc()
                sys.stderr.write(f"[WARNING] Init script failed: {e}\n{failure}")
                sys.stderr.flush()
                report = """@INIT_FAILED@""" + failure
                worker.Task._run = lambda task: task.fail(report)
                return
            self.exports.update({k: v for k, v in namespace.items() if not k.startswith("_")})
            os.remove(path)

    worker.Worker = InitWorker


def _watch_parent():
    # The worker exits when its host dies, even by SIGKILL: a pidfd on the host becomes
    # readable when it exits; then the whole process group (the worker and what it started)
    # is killed.
    parent = int(os.environ.pop("APPOSE_PARENT_PID", "0") or "0")
    if parent <= 0:
        return
    import select
    import signal

    def die():
        os.killpg(os.getpgid(0), signal.SIGKILL)

    def alive():
        try:
            os.kill(parent, 0)
            return True
        except ProcessLookupError:
            return False
        except OSError:
            return True

    def watch():
        # The host need not be our parent (a launcher such as `pixi run` may sit between).
        try:
            fd = os.pidfd_open(parent)
        except ProcessLookupError:
            die()
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])
            die()
        while alive():  # no pidfd (old kernel or Python): look four times a second
            threading.Event().wait(0.25)
        die()

    threading.Thread(target=watch, name="appose-parent-watch", daemon=True).start()


_appose_main()
