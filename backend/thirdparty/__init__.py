"""Every change this project makes to third-party code, one module per library.

:func:`backend.thirdparty.patches.install` applies them, checks each library's version against the one
its patch was written for, and logs one line saying what is active.
"""
