#!/usr/bin/env python3
"""Tests of check_layers.py on tiny fake trees: each rule fails on its violation, naming the
file, the line and the layers, and a tree that keeps the layers passes (run by ctest as
layers.script)."""

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "check_layers.py")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import check_layers  # noqa: E402  (after the path is set)

# A tree that keeps every rule, each violation test adds one file to it.
CLEAN = {
    "include/appose/appose.hpp": '#include "appose/value.hpp"\n',
    "include/appose/value.hpp": '#include "appose/error.hpp"\n',
    "include/appose/error.hpp": "#include <stdexcept>\n",
    "src/util/utf8.hpp": "#include <string>\n",
    "src/util/utf8.cpp": '#include "util/utf8.hpp"\n',
    "src/platform/process.hpp": '#include <string>\n#include "util/utf8.hpp"\n',
    "src/platform/posix/process.cpp":
        '#include "platform/process.hpp"\n#include <sys/types.h>\n#include <unistd.h>\n',
    "src/core/value.cpp":
        '#include "appose/value.hpp"\n#include <csignal>\n#include "value_blocks.hpp"\n',
    "src/core/value_blocks.hpp": "#include <vector>\n",
    "src/wire/codec.hpp": '#include "core/value_blocks.hpp"\n',
    "src/host/service.cpp":
        '#include "wire/codec.hpp"\n#include "platform/process.hpp"\n'
        '#include "generated/python_bootstrap_py.hpp"\n',
    "src/worker/worker.cpp": '#include "wire/codec.hpp"\n',
    "src/environment/environment.cpp":
        '#include "host/service.cpp"\n#include "worker/worker.cpp"\n',
    "src/envbuild/tool.cpp": '#include "environment/environment.cpp"\n',
    "bench/measure.hpp": "#include <appose/appose.hpp>\n",
    "bench/measure.cpp": '#include "measure.hpp"\n#include <fmt/format.h>\n#include <unistd.h>\n',
    "tools/cli/run.cpp": '#include "appose/appose.hpp"\n#include "../console.hpp"\n',
    "tools/console.hpp": "#include <string>\n",
    "examples/demo.cpp": '#include "appose/appose.hpp"\n',
}


class CheckLayers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        for path, text in CLEAN.items():
            self.write(path, text)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, path, text):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)

    def run_check(self, *args):
        """The script's main() in this process (a fresh interpreter per case is slow)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = check_layers.main(["--root", self.root, *args])
        return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())

    def assert_fails_with(self, *expected):
        run = self.run_check()
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        for text in expected:
            self.assertIn(text, run.stdout)
        return run.stdout

    def test_a_tree_that_keeps_the_layers_passes(self):
        run = self.run_check()
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)

    def test_an_include_of_a_higher_layer_fails_naming_both_layers(self):
        self.write("src/core/ndarray.cpp", '#include <vector>\n#include "envbuild/tool.cpp"\n')
        out = self.assert_fails_with("src/core/ndarray.cpp:2:", "core includes envbuild")
        self.assertEqual(len(out.splitlines()), 1, out)

    def test_a_relative_include_of_a_higher_layer_fails(self):
        self.write("src/util/random.cpp", '#include "../wire/codec.hpp"\n')
        self.assert_fails_with("src/util/random.cpp:1:", "util includes wire")

    def test_a_public_header_of_a_higher_layer_fails(self):
        self.write("src/util/random.cpp", '#include "appose/value.hpp"\n')
        self.assert_fails_with("src/util/random.cpp:1:", "util includes core")

    def test_the_umbrella_header_is_above_every_layer(self):
        self.write("src/envbuild/scheme.cpp", '#include "appose/appose.hpp"\n')
        self.assert_fails_with("src/envbuild/scheme.cpp:1:", "envbuild includes top")

    def test_host_and_worker_never_include_each_other(self):
        self.write("src/worker/hello.cpp", '#include "host/service.cpp"\n')
        self.write("src/host/task.cpp", '#include "worker/worker.cpp"\n')
        self.assert_fails_with("src/worker/hello.cpp:1: worker includes host",
                               "src/host/task.cpp:1: host includes worker")

    def test_a_neutral_platform_header_includes_no_os_header(self):
        self.write("src/platform/shm.hpp", "#include <cstddef>\n#include <sys/types.h>\n")
        self.assert_fails_with("src/platform/shm.hpp:2:", "<sys/types.h>")

    def test_os_headers_outside_platform_fail(self):
        self.write("src/host/task.cpp", "#include <poll.h>\n#include <Windows.h>\n")
        self.write("src/worker/io.cpp", "#include <linux/futex.h>\n")
        self.assert_fails_with("src/host/task.cpp:1:", "src/host/task.cpp:2:",
                               "src/worker/io.cpp:1:", "<linux/futex.h>")

    def test_clients_include_public_headers_and_their_own_only(self):
        self.write("bench/rtt.cpp", '#include "measure.hpp"\n#include "platform/process.hpp"\n')
        self.write("examples/peek.cpp", '#include "../src/core/value_blocks.hpp"\n')
        self.write("tools/doctor.cpp", "#include <wire/codec.hpp>\n")
        self.assert_fails_with("bench/rtt.cpp:2:", "examples/peek.cpp:1:",
                               "tools/doctor.cpp:1:")

    def test_a_file_outside_the_layer_folders_fails(self):
        self.write("src/misc.cpp", "#include <string>\n")
        self.write("src/extra/thing.cpp", "#include <string>\n")
        self.assert_fails_with("src/misc.cpp:1:", "src/extra/thing.cpp:1:")

    def test_a_public_header_without_a_layer_fails(self):
        self.write("include/appose/gadget.hpp", "#include <string>\n")
        self.assert_fails_with("include/appose/gadget.hpp:1:", "PUBLIC_HEADERS")

    def test_list_reports_every_violation_and_exits_zero(self):
        self.write("src/core/ndarray.cpp", '#include "envbuild/tool.cpp"\n')
        self.write("src/host/task.cpp", "#include <unistd.h>\n")
        run = self.run_check("--list")
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("src/core/ndarray.cpp:1:", run.stdout)
        self.assertIn("src/host/task.cpp:1:", run.stdout)
        self.assertIn("2 violation(s)", run.stdout)

    def test_the_command_line_reads_the_real_tree(self):
        run = subprocess.run([sys.executable, SCRIPT, "--list"], capture_output=True, text=True,
                             check=False)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("violation(s)", run.stdout)


if __name__ == "__main__":
    unittest.main()
