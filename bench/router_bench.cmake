# Micro benchmark of route selection (not a test; build explicitly: ninja router_bench).
find_package(benchmark QUIET)
if(benchmark_FOUND)
  add_executable(router_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/router_bench.cc)
  target_link_libraries(router_bench PRIVATE halyard_router benchmark::benchmark)
endif()
