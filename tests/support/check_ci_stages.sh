#!/bin/sh
# Prints what scripts/test's stages before the main suite found (FILE) and fails if one of them
# failed. No FILE: those stages did not run (scripts/test with ctest arguments, or ctest alone).
file=$1
if [ ! -f "$file" ]; then
  echo "no earlier stages ran (scripts/test without arguments runs them)"
  exit 0
fi
cat "$file"
if grep -q FAILED "$file"; then exit 1; fi
exit 0
