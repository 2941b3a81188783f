# Simulator tests: each runs storemesh-sim (the real core over simulated storage,
# network and clock) as a CTest test of its own. SM_SIM_SWEEP_SEEDS sets the sweep
# size (tests/run_all.sh uses 1,000 in both of its builds).
set(SM_SIM_SWEEP_SEEDS 1000 CACHE STRING "seeds in the simulator's sweep test")
set(SM_SIM_ENV
    "STOREMESH_SIM=$<TARGET_FILE:storemesh-sim>"
    "SM_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "SM_SIM_SWEEP_SEEDS=${SM_SIM_SWEEP_SEEDS}"
    "SM_SANITIZE=$<BOOL:${SM_SANITIZE}>")
foreach(script IN ITEMS sim_determinism sim_planted_bugs sim_sweep sim_scenarios sim_bad_input
                       sim_regressions)
  add_test(NAME ${script} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${script}.sh)
  set_tests_properties(${script} PROPERTIES TIMEOUT 900 ENVIRONMENT "${SM_SIM_ENV}")
endforeach()
