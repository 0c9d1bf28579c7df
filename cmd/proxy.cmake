# halyard-proxy: the data plane binary. Flags only here; everything else is in src/proxy/runtime.
find_package(CLI11 REQUIRED)
add_executable(halyard-proxy halyard_proxy_main.cc)
target_link_libraries(halyard-proxy PRIVATE halyard_runtime CLI11::CLI11)
# Only the shared libraries the proxy really calls are loaded (e.g. not libcrypto, which only the
# analyzers of `halyard analyze` use): each one mapped costs resident memory at idle.
target_link_options(halyard-proxy PRIVATE -Wl,--as-needed)
# The request path's functions first, together, hottest first (cmd/hot_functions.txt, written by
# bench/h2_instructions.py --order-file from a profile of proxied HTTP/2 requests): the code a
# request runs spans fewer cache lines and pages than when the functions lie where their files
# put them, among everything else (about 3% less CPU per HTTP/2 request, docs/performance.md).
# GNU ld cannot order sections from a list; gold (part of binutils) can. Functions the list does
# not name, or names no longer there, only lose the ordering.
# A profile-guided build puts the functions its training found hot in `.text.hot.NAME` rather
# than `.text.NAME`: the list the link reads names each function both ways, hot name first, so
# the order holds in either build (3% fewer simulated L1i misses on the profile-guided build than
# with the plain names alone, docs/performance.md "Stop 27").
if(HALYARD_ORDER_FUNCTIONS)
  file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/hot_functions.txt hot_functions)
  set(hot_sections "")
  foreach(section IN LISTS hot_functions)
    string(REGEX REPLACE "^\\.text\\." ".text.hot." hot_section "${section}")
    string(APPEND hot_sections "${hot_section}\n${section}\n")
  endforeach()
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/hot_sections.txt "${hot_sections}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                                         ${CMAKE_CURRENT_SOURCE_DIR}/hot_functions.txt)
  target_link_options(halyard-proxy PRIVATE -fuse-ld=gold
                      -Wl,--section-ordering-file=${CMAKE_CURRENT_BINARY_DIR}/hot_sections.txt)
  set_property(TARGET halyard-proxy APPEND PROPERTY LINK_DEPENDS
                                                   ${CMAKE_CURRENT_BINARY_DIR}/hot_sections.txt)
  message(STATUS "halyard-proxy: hot functions ordered (gold)")
endif()
# The allocator. Every HTTP/2 stream makes and frees a few dozen objects, some of them past the
# sizes glibc's per-thread cache serves (16 KiB buffers), and glibc's malloc and free then took
# about a quarter of the proxy's CPU (docs/performance.md). mimalloc (Debian's libmimalloc2.0)
# serves them from per-thread pages. Linked ahead of libc, it replaces malloc and operator new for
# the whole process; --as-needed would drop it, since nothing names it.
# -DHALYARD_MIMALLOC=OFF keeps glibc's, for comparisons.
option(HALYARD_MIMALLOC "Link halyard-proxy with mimalloc when it is installed" ON)
find_package(mimalloc CONFIG QUIET)
if(mimalloc_FOUND AND HALYARD_MIMALLOC AND NOT HALYARD_FUZZ)
  target_link_libraries(halyard-proxy PRIVATE -Wl,--no-as-needed mimalloc -Wl,--as-needed)
  message(STATUS "halyard-proxy: linked with mimalloc")
else()
  message(STATUS "halyard-proxy: glibc malloc (mimalloc off, or not found: apt-get install libmimalloc-dev)")
endif()
