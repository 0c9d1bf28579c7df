# cmake -DIN=<x.proto> -DOUT=<x_lite.proto> -P lite_proto.cmake: the same messages for
# protobuf-lite in package halyard.v1lite. The wire format names no message package, so the lite
# copy reads and writes the same bytes as halyard.v1; only the C++ namespace differs, so one
# binary could hold both.
file(READ ${IN} text)
string(REGEX REPLACE "\npackage halyard\\.v1;\n"
       "\npackage halyard.v1lite;\noption optimize_for = LITE_RUNTIME;\n" lite "${text}")
if(lite STREQUAL text)
  message(FATAL_ERROR "${IN}: no 'package halyard.v1;' line to rewrite")
endif()
file(WRITE ${OUT} "// Generated from ${IN} by api/lite_proto.cmake; do not edit.\n${lite}")
