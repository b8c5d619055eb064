{
  # The CPU build of CMakeLists.txt for node-gyp (`npm run build:native:gyp`), writing
  # build/Release/ditcache.node. Sources are globbed at configure time, as CMake does, so files
  # added to the source folders need no edit here.
  'variables': {
    # `<(cpp_in) [-r] dir...`: the .cpp files directly in each dir (with -r: at any depth), sorted.
    'cpp_in': 'node -e "var a = process.argv.slice(1), deep = a[0] === \'-r\'; (deep ? a.slice(1) : a).forEach(function (d) { require(\'fs\').readdirSync(d, { recursive: deep }).sort().forEach(function (f) { if (f.endsWith(\'.cpp\')) console.log(d + \'/\' + f); }); })" --',
    'avx2_flags': ['-mavx2', '-mfma', '-mf16c'],
    'avx512_flags': ['-mavx512f', '-mavx512bw', '-mavx512dq', '-mavx512vl'],
    'avx512_bf16_flags': ['-mavx512bf16'],
    'amx_flags': ['-mamx-tile', '-mamx-bf16'],
  },
  'target_defaults': {
    # Node-API headers from the npm package, ahead of node-gyp's nodedir, so the addon is built
    # against the same Node-API declarations as the CMake build whatever nodedir supplies.
    'include_dirs': ['native/include', 'native/src', '<!(node -p "require(\'node-api-headers\').include_dir")'],
    'defines': ['DITCACHE_BUILDING'],
    # common.gypi turns C++ exceptions and RTTI off; the core and node-addon-api need exceptions.
    'cflags!': ['-fno-exceptions'],
    'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20'],
    'cflags_cc': ['-std=c++17', '-fexceptions', '-fPIC', '-O3'],
    'xcode_settings': {
      'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
      'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
    },
    'conditions': [
      ['target_arch=="x64"', {'defines': ['DC_HAVE_AVX2=1', 'DC_HAVE_AVX512=1', 'DC_HAVE_AVX512_BF16=1', 'DC_HAVE_AMX=1']}],
    ],
  },
  'targets': [
    {
      'target_name': 'ditcache_isa_portable',
      'type': 'static_library',
      'defines': ['DC_ISA_NS=portable'],
      'sources': ['<!@(<(cpp_in) -r native/src/cpu/portable)'],
    },
    {
      'target_name': 'ditcache',
      'dependencies': ['ditcache_isa_portable'],
      'sources': [
        '<!@(<(cpp_in) native/src/core native/src/api native/src/cache native/src/cpu native/node)',
        'native/src/cuda/absent.cpp',
      ],
      'include_dirs': ['<!(node -p "require(\'node-addon-api\').include_dir")'],
      'defines': ['NAPI_VERSION=9', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      'conditions': [
        ['target_arch=="x64"', {'dependencies': ['ditcache_isa_avx2', 'ditcache_isa_avx512', 'ditcache_isa_avx512_bf16', 'ditcache_isa_amx']}],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'ditcache_isa_avx2',
          'type': 'static_library',
          'defines': ['DC_ISA_NS=avx2'],
          'cflags_cc': ['<@(avx2_flags)'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['<@(avx2_flags)']},
          'sources': ['<!@(<(cpp_in) -r native/src/cpu/avx2)'],
        },
        {
          'target_name': 'ditcache_isa_avx512',
          'type': 'static_library',
          'defines': ['DC_ISA_NS=avx512'],
          'cflags_cc': ['<@(avx2_flags)', '<@(avx512_flags)'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['<@(avx2_flags)', '<@(avx512_flags)']},
          'sources': ['<!@(<(cpp_in) -r native/src/cpu/avx512)'],
        },
        {
          'target_name': 'ditcache_isa_avx512_bf16',
          'type': 'static_library',
          'defines': ['DC_ISA_NS=avx512_bf16'],
          'cflags_cc': ['<@(avx2_flags)', '<@(avx512_flags)', '<@(avx512_bf16_flags)'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['<@(avx2_flags)', '<@(avx512_flags)', '<@(avx512_bf16_flags)']},
          'sources': ['<!@(<(cpp_in) -r native/src/cpu/avx512_bf16)'],
        },
        {
          'target_name': 'ditcache_isa_amx',
          'type': 'static_library',
          'defines': ['DC_ISA_NS=amx'],
          'cflags_cc': ['<@(avx2_flags)', '<@(avx512_flags)', '<@(avx512_bf16_flags)', '<@(amx_flags)'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['<@(avx2_flags)', '<@(avx512_flags)', '<@(avx512_bf16_flags)', '<@(amx_flags)']},
          'sources': ['<!@(<(cpp_in) -r native/src/cpu/amx)'],
        },
      ],
    }],
  ],
}
