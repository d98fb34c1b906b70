# Fails when FILE differs from `parley-proto-doc MODE` (a generated file:
# clients/js/parley-events.d.ts, docs/asyncapi.yaml, docs/openapi.yaml).
execute_process(COMMAND ${DOC} ${MODE} OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "parley-proto-doc ${MODE} failed")
endif()
file(READ ${FILE} current)
if(NOT current STREQUAL generated)
  message(FATAL_ERROR "${FILE} is stale: run script/gen-docs")
endif()
