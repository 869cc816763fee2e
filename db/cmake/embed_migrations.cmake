# cmake -DOUTPUT=<file.cpp> -DMIGRATIONS_DIR=<dir> -P embed_migrations.cmake
# Writes a C++ source defining chargegrid::db::builtin_migrations() with every
# NNNN_name.sql of MIGRATIONS_DIR embedded as a raw string literal.
cmake_minimum_required(VERSION 3.25)
file(GLOB files RELATIVE "${MIGRATIONS_DIR}" "${MIGRATIONS_DIR}/*.sql")
list(SORT files)
set(delimiter "chargegrid_sql")
set(entries "")
set(seen_versions "")
foreach(file IN LISTS files)
  if(NOT file MATCHES "^([0-9][0-9][0-9][0-9])_([A-Za-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "db/migrations/${file}: migration files are named NNNN_name.sql")
  endif()
  set(version_text "${CMAKE_MATCH_1}")
  set(name "${CMAKE_MATCH_2}")
  math(EXPR version "${version_text}")
  if(version IN_LIST seen_versions)
    message(FATAL_ERROR "db/migrations/${file}: version ${version} is used twice")
  endif()
  list(APPEND seen_versions ${version})
  file(READ "${MIGRATIONS_DIR}/${file}" sql)
  string(FIND "${sql}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "db/migrations/${file} contains the literal delimiter )${delimiter}\"")
  endif()
  string(APPEND entries "      {${version}, \"${name}\", R\"${delimiter}(${sql})${delimiter}\"},\n")
endforeach()
set(content "// Generated from db/migrations/*.sql by db/cmake/embed_migrations.cmake. Do not edit.
#include \"chargegrid/db/migrations.hpp\"

namespace chargegrid::db {

std::vector<Migration> builtin_migrations() {
  return {
${entries}  };
}

}  // namespace chargegrid::db
")
# Rewrite only on change, so that an unrelated re-run does not trigger a rebuild.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
  if(previous STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
