# Included by the main tree: registers a short run of every fuzzer found in HALYARD_FUZZ_BIN_DIR.
# Each fuzzer <name> has a seed corpus in tests/fuzz/corpus/<name>/.
set(HALYARD_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzzer runs under CTest")
function(halyard_fuzz_smoke name)
  if(HALYARD_FUZZ_BIN_DIR)
    set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    add_test(NAME fuzz_${name}
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
        ${HALYARD_FUZZ_BIN_DIR}/${name} -max_total_time=${HALYARD_FUZZ_SECONDS} -timeout=10
        -rss_limit_mb=2048 ${corpus} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
    file(MAKE_DIRECTORY ${corpus})
  endif()
endfunction()
