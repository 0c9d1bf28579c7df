# The span exporter's encoders, timed (not a test; build explicitly: ninja span_encode_bench).
add_executable(span_encode_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/span_encode_bench.cc)
target_link_libraries(span_encode_bench PRIVATE halyard_telemetry)
