# Our HPACK against nghttp2's, timed (not a test; build explicitly: ninja hpack_bench).
add_executable(hpack_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/hpack_bench.cc)
find_package(PkgConfig REQUIRED)
pkg_check_modules(NGHTTP2_HPACK_BENCH REQUIRED IMPORTED_TARGET libnghttp2)
target_link_libraries(hpack_bench PRIVATE halyard_http PkgConfig::NGHTTP2_HPACK_BENCH)
