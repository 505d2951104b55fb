#!/usr/bin/env python3
"""Tests of extract_snippets.py: which blocks it finds, how it wraps them, and the marker
mistakes it refuses (run by ctest as docs.extractor)."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class Extract(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.out = os.path.join(self.root, "out")

    def tearDown(self):
        self.tmp.cleanup()

    def page(self, text, name="page.md"):
        path = os.path.join(self.root, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
        return path

    def run_tool(self, *pages):
        return subprocess.run(
            [sys.executable, os.path.join(HERE, "extract_snippets.py"), "--root", self.root,
             "--out", self.out, *pages], capture_output=True, text=True)

    def read(self, name):
        with open(os.path.join(self.out, name), encoding="utf-8") as f:
            return f.read()

    def test_finds_cpp_blocks_only_outside_other_fences(self):
        page = self.page("""\
            Text.

            ````markdown
            ```cpp
            int shown_not_compiled = 0;
            ```
            ````

            1. In a list:

               ```cpp
               int listed = 1;
               ```
            ```python
            x = 1
            ```
            """)
        r = self.run_tool(page)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(self.out)), ["page_1.cpp", "snippets.cmake"])
        source = self.read("page_1.cpp")
        self.assertIn("\nint listed = 1;\n", source)  # the list's indentation removed
        self.assertIn(f'#line 12 "{page}"', source)    # the line in the page

    def test_fragment_is_wrapped_and_whole_program_is_not(self):
        page = self.page("""\
            ```cpp
            #include <appose/ndarray.hpp>

            appose::NDArray a(appose::DType::int8, appose::Shape{2});
            ```

            ```cpp
            int main() { return 0; }
            ```
            """)
        self.assertEqual(self.run_tool(page).returncode, 0)
        fragment = self.read("page_1.cpp")
        self.assertIn("#include <appose/ndarray.hpp>", fragment)
        self.assertNotIn("<appose/appose.hpp>", fragment)  # its own includes only
        self.assertIn("int main() {\n  try {", fragment)
        self.assertIn(f'#line 3 "{page}"\n\nappose::NDArray a', fragment)
        whole = self.read("page_2.cpp")
        self.assertNotIn("try", whole)
        self.assertIn(f'#line 8 "{page}"\nint main() {{ return 0; }}', whole)
        cmake = self.read("snippets.cmake")
        self.assertIn('appose_docs_snippet(page_1 ', cmake)
        self.assertIn('WHERE "page.md:1" FRAGMENT NEEDS "" PROGRAMS "")', cmake)
        self.assertIn('WHERE "page.md:7" NEEDS "" PROGRAMS "")', cmake)

    def test_markers_add_hidden_code_placeholders_and_programs(self):
        page = self.page("""\
            <!-- snippet: name=w -->
            ```cpp
            int main() { return 0; }
            ```

            <!-- snippet: venv=/path/to/venv exe=/path/to/w:w
            int given = 1;
            -->
            ```cpp
            appose::Environment env("/path/to/venv", {"/path/to/venv/bin"});
            const char* worker = "/path/to/w";
            ```
            <!-- snippet-check
            APPOSE_DOCS_EXPECT(given == 1);
            -->
            """)
        r = self.run_tool(page)
        self.assertEqual(r.returncode, 0, r.stderr)
        source = self.read("page_2.cpp")
        self.assertIn('env("" APPOSE_DOCS_VENV "", {"" APPOSE_DOCS_VENV "/bin"})', source)
        self.assertIn('worker = "" APPOSE_DOCS_EXE_page_1 "";', source)
        self.assertIn('require_peer("appose-python"', source)
        self.assertLess(source.index("int given = 1;"), source.index("appose::Environment env"))
        self.assertLess(source.index("appose::Environment env"), source.index("APPOSE_DOCS_EXPECT"))
        self.assertIn(f'#line 7 "{page}"\nint given = 1;', source)
        self.assertIn('NEEDS venv PROGRAMS page_1)', self.read("snippets.cmake"))

    def test_page_names_make_distinct_tests(self):
        os.makedirs(os.path.join(self.root, "docs"))
        pages = [self.page("```cpp\nint x = 1;\n```\n", name) for name in
                 ("README.md", "docs/README.md", "docs/values.md")]
        self.assertEqual(self.run_tool(*pages).returncode, 0)
        self.assertEqual(sorted(os.listdir(self.out)),
                         ["docs_readme_1.cpp", "readme_1.cpp", "snippets.cmake", "values_1.cpp"])

    def test_unchanged_output_is_not_rewritten(self):
        page = self.page("```cpp\nint x = 1;\n```\n")
        self.assertEqual(self.run_tool(page).returncode, 0)
        path = os.path.join(self.out, "page_1.cpp")
        os.utime(path, (1, 1))
        self.assertEqual(self.run_tool(page).returncode, 0)
        self.assertEqual(os.stat(path).st_mtime, 1)  # no recompilation after a prose edit

    def test_marker_mistakes_fail_naming_the_line(self):
        cases = {
            "<!-- snippet: needs-gpu -->\n```cpp\nint x;\n```\n": "page.md:2: unknown snippet key",
            "<!-- snippet: compile-only -->\n```cpp\nint x;\n```\n": "compile-only needs why=",
            "<!-- snippet: exe=/p:nobody -->\n```cpp\nint x;\n```\n": "exe=/p:nobody",
            "<!-- snippet: main\nint x;\n-->\n```cpp\nint main() {}\n```\n": "no hidden code",
        }
        for text, message in cases.items():
            with self.subTest(message=message):
                r = self.run_tool(self.page(text))
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(message, r.stderr)


if __name__ == "__main__":
    unittest.main()
