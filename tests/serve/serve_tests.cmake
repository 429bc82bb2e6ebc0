# sam serve (included from tests/CMakeLists.txt; needs the `reference` fixture's
# tiny.pth and ref_tiny_point image).
# API: every endpoint and error path, concurrency, LRU, limits, results equal to
# sam segment / sam everything, and 10,000 mixed valid / invalid requests from 4
# clients (~5 s; the server must stay up with its memory bounded).
add_test(NAME sam_serve_api
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/serve/test_serve_api.py
                 --bin ${CMAKE_BINARY_DIR}/bin --data ${SAM_TESTDATA} --stress 10000)
set_tests_properties(sam_serve_api PROPERTIES FIXTURES_REQUIRED reference TIMEOUT 600)
# The page in headless Chromium; the screenshot stays as a CI artefact. Skipped
# (77) where chromium is not installed.
add_test(NAME sam_serve_page
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/serve/test_serve_page.py
                 --bin ${CMAKE_BINARY_DIR}/bin --data ${SAM_TESTDATA}
                 --screenshot ${CMAKE_BINARY_DIR}/artifacts/serve_page.png)
set_tests_properties(sam_serve_page PROPERTIES FIXTURES_REQUIRED reference SKIP_RETURN_CODE 77 TIMEOUT 300)
