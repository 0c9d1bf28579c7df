halyard_add_fuzzer(fuzz_h2_frames ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_h2_frames.cc halyard_http)
