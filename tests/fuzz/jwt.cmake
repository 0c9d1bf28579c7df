halyard_add_fuzzer(fuzz_jwt ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_jwt.cc halyard_authn)
