# Micro benchmark of host selection (not a test; build explicitly: ninja lb_pick_bench).
find_package(benchmark QUIET)
if(benchmark_FOUND)
  add_executable(lb_pick_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/lb_pick_bench.cc)
  target_link_libraries(lb_pick_bench PRIVATE halyard_upstream benchmark::benchmark)
endif()
