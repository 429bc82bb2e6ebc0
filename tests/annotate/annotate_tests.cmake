# sam annotate (tests/annotate/), included from tests/CMakeLists.txt.
#
# Polygons: our border following against OpenCV 4.6's findContours (RETR_EXTERNAL,
# CHAIN_APPROX_SIMPLE) and Ultralytics' merged polygon (masks2segments, installed
# into BUILD/pyultra with pip --no-deps; without network only OpenCV is compared)
# on ~280 random and adversarial masks: exact point lists.
set(SAM_PYULTRA ${CMAKE_BINARY_DIR}/pyultra)
set(SAM_ANNOTATE_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/annotate)
add_test(NAME contours_match_opencv
         COMMAND sh -c "rc=0; ${SAM_ANNOTATE_TESTS}/setup_ultralytics.sh ${SAM_PYULTRA} || rc=$?; [ $rc = 0 ] || [ $rc = 77 ] || exit $rc; u=''; [ -d ${SAM_PYULTRA}/ultralytics ] && u='--ultralytics ${SAM_PYULTRA}'; /usr/bin/python3 ${SAM_ANNOTATE_TESTS}/make_contour_cases.py ${CMAKE_BINARY_DIR}/testdata/contours $u && SAM_CONTOUR_CASES=${CMAKE_BINARY_DIR}/testdata/contours $<TARGET_FILE:unit_tests> '[contours_reference]'")
set_tests_properties(contours_match_opencv PROPERTIES TIMEOUT 300)

# sam annotate end to end against the official SamPredictor + Ultralytics' polygon code
# (ref_auto_annotate.py): YOLO-seg lines per box, class, polygon IoU >= 0.98; the COCO /
# LabelMe / PNG outputs, the COCO box readers, filters, resume, shards, bad inputs (tiny);
# vit_b on 3 small images (YOLO-seg only).
foreach(variant tiny vit_b)
  add_test(NAME sam_annotate_cli_${variant}
           COMMAND /usr/bin/python3 ${SAM_ANNOTATE_TESTS}/test_annotate_cli.py --bin ${CMAKE_BINARY_DIR}/bin
                   --data ${CMAKE_BINARY_DIR}/testdata --pyref ${CMAKE_BINARY_DIR}/pyref --pyultra ${SAM_PYULTRA}
                   --variant ${variant})
  set_tests_properties(sam_annotate_cli_${variant} PROPERTIES FIXTURES_REQUIRED reference SKIP_RETURN_CODE 77
                       TIMEOUT 900)
endforeach()
