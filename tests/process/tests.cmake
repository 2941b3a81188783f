# Process tests: they start real `storemesh run` nodes, so each is a CTest test of
# its own (a shell script or a C driver), never a Criterion test. Each makes its own
# temporary directory, so CTest may run them in parallel.
find_package(Threads REQUIRED)

add_executable(crash_driver ${CMAKE_CURRENT_LIST_DIR}/crash_driver.c
                            ${CMAKE_CURRENT_LIST_DIR}/crash_check.c
                            ${CMAKE_CURRENT_LIST_DIR}/child.c)
target_link_libraries(crash_driver PRIVATE storemesh_client sm_warnings Threads::Threads)

set(SM_PROCESS_ENV
    "STOREMESH=$<TARGET_FILE:storemesh>"
    "SM_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

add_test(NAME process_crash_safety COMMAND crash_driver $<TARGET_FILE:storemesh>)
set_tests_properties(process_crash_safety PROPERTIES
  TIMEOUT 180 ENVIRONMENT "${SM_PROCESS_ENV}")

foreach(script IN ITEMS cli_basics idempotency rules_cli bad_input limits disk_full peers_cli
                       mesh_converge mesh_relay mesh_catchup mesh_security netns_partition
                       bench_interrupt)
  add_test(NAME process_${script} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${script}.sh)
  # lib.sh's watchdog ends a script after 100 s, before this timeout, so that it
  # always cleans up its nodes. Exit 77: skipped (disk_full needs root for a tmpfs,
  # netns_partition root or CAP_NET_ADMIN for network namespaces).
  set_tests_properties(process_${script} PROPERTIES
    TIMEOUT 150 ENVIRONMENT "${SM_PROCESS_ENV}" SKIP_RETURN_CODE 77)
endforeach()
