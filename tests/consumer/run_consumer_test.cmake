# Builds tests/consumer the two ways a user's project gets sr and runs its programs:
#   MODE=install: installs sr into a scratch prefix, then find_package(sr) against it;
#   MODE=subdir:  add_subdirectory(<sr source>) (tools, tests, benchmarks, examples and CUDA off,
#                 as a parent project sees them by default).
# Both also build examples/upscale.cpp and run it on the bundled x2 model.
file(REMOVE_RECURSE ${WORK_DIR})
if(MODE STREQUAL "subdir")
  set(configure_args -DSR_CONSUMER_SUBDIR=${SR_SOURCE_DIR})
else()
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${SR_BINARY_DIR} --prefix ${WORK_DIR}/prefix
                  RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "cmake --install failed")
  endif()
  set(configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SR_SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build
                        ${configure_args} -DSR_EXAMPLES_DIR=${SR_SOURCE_DIR}/examples -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "configuring the consumer project (${MODE}) failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "building the consumer project (${MODE}) failed")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE result OUTPUT_VARIABLE out)
message(STATUS "consumer printed: ${out}")
if(NOT result EQUAL 0 OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "the consumer program failed")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer_upscale ${SR_SOURCE_DIR}/models/sr-default-x2.safetensors
                        ${SR_SOURCE_DIR}/docs/samples/chelsea.png ${WORK_DIR}/chelsea-x2.png
                RESULT_VARIABLE result OUTPUT_VARIABLE out)
message(STATUS "consumer_upscale printed: ${out}")
if(NOT result EQUAL 0 OR NOT EXISTS ${WORK_DIR}/chelsea-x2.png)
  message(FATAL_ERROR "the upscale example built by the consumer project failed")
endif()
