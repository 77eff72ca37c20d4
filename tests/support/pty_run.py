"""Runs a command on a pseudo-terminal of COLUMNS columns, as a person's terminal would be,
and prints everything it wrote there (stdout and stderr together, control codes and all).

Usage: pty_run.py COLUMNS COMMAND [ARG ...]
"""
import fcntl
import os
import pty
import struct
import sys
import termios

columns = int(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    # The child's terminal gets its size before the command starts and asks for it.
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    os.execvp(sys.argv[2], sys.argv[2:])
out = bytearray()
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out.extend(chunk)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
