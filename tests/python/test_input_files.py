"""The converter's inputs that are not regular files (FIFO, device, directory, link loop) or are
too large: refused at once with the cause named, never waited on (a FIFO would block open())."""
import os
import tempfile
import unittest

import helpers  # noqa: F401  (puts weights_converter on sys.path)
from errseg_convert.errors import ConvertError
from errseg_convert.input_files import open_regular, read_capped


class InputFilesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def message(self, fn, *args):
        with self.assertRaises(ConvertError) as cm:
            fn(*args)
        return str(cm.exception)

    def test_non_regular_files_are_named(self):
        fifo = self.path("pipe")
        os.mkfifo(fifo)
        self.assertEqual(self.message(open_regular, fifo, "--config"),
                         f"--config {fifo}: is not a regular file (it is a FIFO / named pipe)")
        self.assertEqual(self.message(open_regular, "/dev/zero", "checkpoint"),
                         "checkpoint /dev/zero: is not a regular file (it is a character device)")
        self.assertIn("(it is a directory)", self.message(open_regular, self.dir.name, "checkpoint"))

    def test_open_errors_name_the_reason(self):
        a, b = self.path("a"), self.path("b")
        os.symlink(b, a)
        os.symlink(a, b)
        self.assertIn("Too many levels of symbolic links (a symbolic link loop",
                      self.message(open_regular, a, "checkpoint"))
        self.assertIn("No such file or directory", self.message(open_regular, self.path("none"), "--merges"))

    def test_reads_are_capped(self):
        p = self.path("ten")
        with open(p, "wb") as f:
            f.write(b"0123456789")
        self.assertEqual(read_capped(p, "--config", 10), b"0123456789")
        self.assertEqual(self.message(read_capped, p, "--config", 9),
                         f"--config {p}: larger than the limit of 9 bytes")


if __name__ == "__main__":
    unittest.main()
