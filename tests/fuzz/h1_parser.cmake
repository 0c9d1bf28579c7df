halyard_add_fuzzer(fuzz_h1_parser ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_h1_parser.cc halyard_http)
