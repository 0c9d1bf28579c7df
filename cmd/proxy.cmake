# halyard-proxy: the data plane binary. Flags only here; everything else is in src/proxy/runtime.
find_package(CLI11 REQUIRED)
add_executable(halyard-proxy halyard_proxy_main.cc)
target_link_libraries(halyard-proxy PRIVATE halyard_runtime CLI11::CLI11)
