# Micro benchmark of RequestAuthentication and AuthorizationPolicy per request (not a test; build
# explicitly: ninja authn_bench).
find_package(benchmark QUIET)
if(benchmark_FOUND)
  add_executable(authn_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/authn_bench.cc)
  target_include_directories(authn_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  target_link_libraries(authn_bench PRIVATE halyard_authn halyard_authz halyard_translate
    halyard_config_yaml benchmark::benchmark)
endif()
