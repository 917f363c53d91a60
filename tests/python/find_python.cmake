# Finds a Python 3 with NumPy for the interoperability tests (tests/python/*.py) and hands its path
# to sr_tests as SR_TEST_PYTHON; those tests skip with a message when there is none. Set
# -DSR_TEST_PYTHON=/path/to/python3 to choose one. Otherwise the first of python3 on PATH and the
# system interpreters that can import numpy wins: a pyenv or venv python3 often lacks NumPy while
# Debian's /usr/bin/python3 has python3-numpy. The search runs at every configure, so installing
# NumPy later is picked up.
set(SR_TEST_PYTHON "" CACHE FILEPATH "Python 3 with NumPy for the interoperability tests (empty: search)")
set(sr_test_python "${SR_TEST_PYTHON}")
if(NOT sr_test_python)
  find_program(SR_PYTHON_ON_PATH NAMES python3 python)
  foreach(candidate IN ITEMS ${SR_PYTHON_ON_PATH} /usr/bin/python3 /usr/local/bin/python3)
    if(EXISTS "${candidate}")
      execute_process(COMMAND "${candidate}" -c "import numpy" RESULT_VARIABLE sr_numpy_rc OUTPUT_QUIET ERROR_QUIET)
      if(sr_numpy_rc EQUAL 0)
        set(sr_test_python "${candidate}")
        break()
      endif()
    endif()
  endforeach()
endif()
if(sr_test_python)
  message(STATUS "sr tests: Python with NumPy for the interoperability tests: ${sr_test_python}")
else()
  message(STATUS "sr tests: no Python 3 with NumPy found; the Python interoperability tests will skip "
                 "(apt-get install -y python3-numpy, or set SR_TEST_PYTHON)")
endif()
target_compile_definitions(sr_tests PRIVATE SR_TEST_PYTHON="${sr_test_python}")

# A Python 3 that can run tools/sr-convert (numpy, h5py, torch: Debian's python3-numpy,
# python3-h5py, python3-torch), for the importer tests; they skip with a message without one.
set(SR_CONVERT_PYTHON "" CACHE FILEPATH "Python 3 with numpy, h5py and torch for the sr-convert tests (empty: search)")
set(sr_convert_python "${SR_CONVERT_PYTHON}")
if(NOT sr_convert_python)
  foreach(candidate IN ITEMS /usr/bin/python3 ${SR_PYTHON_ON_PATH} /usr/local/bin/python3)
    if(EXISTS "${candidate}")
      execute_process(COMMAND "${candidate}" -c "import numpy, h5py, torch" RESULT_VARIABLE sr_convert_rc
                      OUTPUT_QUIET ERROR_QUIET)
      if(sr_convert_rc EQUAL 0)
        set(sr_convert_python "${candidate}")
        break()
      endif()
    endif()
  endforeach()
endif()
if(sr_convert_python)
  message(STATUS "sr tests: Python for the sr-convert tests: ${sr_convert_python}")
else()
  message(STATUS "sr tests: no Python 3 with numpy, h5py and torch; the sr-convert tests will skip "
                 "(apt-get install -y python3-numpy python3-h5py python3-torch)")
endif()
target_compile_definitions(sr_tests PRIVATE SR_CONVERT_PYTHON="${sr_convert_python}")
