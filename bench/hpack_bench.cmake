# Our HPACK against nghttp2's, timed (not a test; build explicitly: ninja hpack_bench).
add_executable(hpack_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/hpack_bench.cc)
target_link_libraries(hpack_bench PRIVATE halyard_http)
