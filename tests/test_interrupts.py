"""Ctrl-C held back over code that must not be stopped midway (rlgen/interrupts.py)."""

import os
import signal

import pytest

from rlgen.interrupts import interrupts_deferred


def test_a_ctrl_c_inside_the_block_is_raised_once_it_has_finished():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # what a command-line run has
    finished = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished = True  # reached: the signal did not stop the block
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_without_ctrl_c_runs_as_it_is():
    with interrupts_deferred():
        value = 1 + 1
    assert value == 2 and signal.getsignal(signal.SIGINT) is signal.default_int_handler
