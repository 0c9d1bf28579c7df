# Only the credential code, not the whole control plane: the fuzz tree stays small.
halyard_add_fuzzer(fuzz_bootstrap_token ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bootstrap_token.cc
  halyard_common OpenSSL::Crypto nlohmann_json::nlohmann_json)
target_sources(fuzz_bootstrap_token PRIVATE ${PROJECT_SOURCE_DIR}/src/control/ca/bootstrap_token.cc
  ${PROJECT_SOURCE_DIR}/src/control/ca/openssl_util.cc)
target_include_directories(fuzz_bootstrap_token PRIVATE ${PROJECT_SOURCE_DIR}/src)
