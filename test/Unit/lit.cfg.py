# -*- Python -*-
"""lit configuration that runs the GoogleTest binaries (`*-tests`)."""

import lit.formats

config.name = "DS-Unit"
config.suffixes = []
config.test_source_root = config.ds_tools_dir
config.test_exec_root = config.ds_tools_dir
config.test_format = lit.formats.GoogleTest(".", "-tests")
