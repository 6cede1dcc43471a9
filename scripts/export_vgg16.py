#!/usr/bin/env python3
"""The former name of scripts/export_backbone.py, kept so that existing commands still work:
same options, same output (--arch defaults to vgg16 in both)."""
import os
import sys

script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "export_backbone.py")
os.execv(sys.executable, [sys.executable, script] + sys.argv[1:])
