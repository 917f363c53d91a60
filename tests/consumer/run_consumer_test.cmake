# Builds tests/consumer the two ways a user's project gets sr and runs its programs:
#   MODE=install: installs sr into a scratch prefix, then find_package(sr) against it;
#   MODE=subdir:  add_subdirectory(<sr source>) (tools, tests, benchmarks, examples and CUDA off,
#                 as a parent project sees them by default).
# Both build the engine-only program (sr::sr), whose link line and shared libraries must hold no
# image codec, and examples/upscale.cpp (sr::image), and run them on the bundled x2 model.
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
execute_process(COMMAND ${WORK_DIR}/build/consumer ${SR_SOURCE_DIR}/models/sr-default-x2.safetensors
                RESULT_VARIABLE result OUTPUT_VARIABLE out)
message(STATUS "consumer printed: ${out}")
if(NOT result EQUAL 0 OR NOT out MATCHES "consumer ok" OR NOT out MATCHES "upscaled 12x10 -> 24x20")
  message(FATAL_ERROR "the consumer program failed")
endif()

# sr::sr links no codec: neither on the link command the generator wrote (Makefiles: link.txt,
# Ninja: build.ninja) nor among the shared libraries the program loads. The upscale program
# (sr::image) does load them, which shows that the check can see them.
set(codec_pattern "(lib|-l)(png|jpeg|stb)[^/ ]*")
set(link_command)
if(EXISTS ${WORK_DIR}/build/CMakeFiles/consumer.dir/link.txt)
  file(READ ${WORK_DIR}/build/CMakeFiles/consumer.dir/link.txt link_command)
elseif(EXISTS ${WORK_DIR}/build/build.ninja)
  file(STRINGS ${WORK_DIR}/build/build.ninja ninja_lines)
  set(in_consumer_link OFF)
  foreach(line IN LISTS ninja_lines)
    if(line MATCHES "^build consumer[: ]")
      set(in_consumer_link ON)
    elseif(line MATCHES "^build ")
      set(in_consumer_link OFF)
    endif()
    if(in_consumer_link)
      string(APPEND link_command "${line}\n")
    endif()
  endforeach()
endif()
if(NOT link_command MATCHES "dnnl")
  message(FATAL_ERROR "could not find the consumer's link command in ${WORK_DIR}/build")
endif()
if(link_command MATCHES "${codec_pattern}")
  message(FATAL_ERROR "the engine-only consumer (sr::sr) links ${CMAKE_MATCH_0}:\n${link_command}")
endif()
find_program(LDD ldd)
if(LDD)
  execute_process(COMMAND ${LDD} ${WORK_DIR}/build/consumer OUTPUT_VARIABLE consumer_libraries)
  if(consumer_libraries MATCHES "${codec_pattern}")
    message(FATAL_ERROR "the engine-only consumer (sr::sr) loads ${CMAKE_MATCH_0}:\n${consumer_libraries}")
  endif()
  execute_process(COMMAND ${LDD} ${WORK_DIR}/build/consumer_upscale OUTPUT_VARIABLE upscale_libraries)
  if(NOT upscale_libraries MATCHES "libpng" OR NOT upscale_libraries MATCHES "libjpeg")
    message(FATAL_ERROR "consumer_upscale (sr::image) loads no libpng or libjpeg:\n${upscale_libraries}")
  endif()
  message(STATUS "consumer (sr::sr) loads no image codec; consumer_upscale (sr::image) loads libpng and libjpeg")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer_upscale ${SR_SOURCE_DIR}/models/sr-default-x2.safetensors
                        ${SR_SOURCE_DIR}/docs/samples/chelsea.png ${WORK_DIR}/chelsea-x2.png
                RESULT_VARIABLE result OUTPUT_VARIABLE out)
message(STATUS "consumer_upscale printed: ${out}")
if(NOT result EQUAL 0 OR NOT EXISTS ${WORK_DIR}/chelsea-x2.png)
  message(FATAL_ERROR "the upscale example built by the consumer project failed")
endif()
