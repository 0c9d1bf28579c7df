# Control-plane benchmark (not a test; build explicitly: ninja control_bench). bench/control_bench.cc.
add_executable(control_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/control_bench.cc)
target_link_libraries(control_bench PRIVATE halyard_api halyard_workload_key)
