# halyard-proxy: the data plane binary. Flags only here; everything else is in src/proxy/runtime.
find_package(CLI11 REQUIRED)
add_executable(halyard-proxy halyard_proxy_main.cc)
target_link_libraries(halyard-proxy PRIVATE halyard_runtime CLI11::CLI11)
# Only the shared libraries the proxy really calls are loaded (e.g. not libcrypto, which only the
# analyzers of `halyard analyze` use): each one mapped costs resident memory at idle.
target_link_options(halyard-proxy PRIVATE -Wl,--as-needed)
