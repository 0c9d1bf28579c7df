halyard_add_fuzzer(fuzz_config_loader ${CMAKE_CURRENT_LIST_DIR}/fuzz_config_loader.cc
  halyard_config_validate)
