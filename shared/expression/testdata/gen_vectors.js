// Regenerates jexl_vectors.json from real JEXL 2.3.0 (the version the FIWARE
// IoT agents use) and the transform set documented in the seed
// (iotagent-node-lib doc/api.md, "Available functions").
//
//   cd /tmp && npm install jexl@2.3.0
//   NODE_PATH=/tmp/node_modules node gen_vectors.js > jexl_vectors.json
//
// Each vector: {expr, ctx, tz, want} where want is JSON.stringify(result)
// ("null" for undefined), or {…, error: true} when JEXL or the transform
// throws.
'use strict';
const jexl = require('jexl');

const FIXED_NOW = 1637245214901;
Date.now = () => FIXED_NOW;

jexl.addTransforms({
    jsonparse: (str) => JSON.parse(str),
    jsonstringify: (obj) => JSON.stringify(obj),
    indexOf: (val, char) => String(val).indexOf(char),
    length: (val) => String(val).length,
    trim: (val) => String(val).trim(),
    substr: (val, int1, int2) => String(val).substr(int1, int2),
    addreduce: (arr) => arr.reduce((i, v) => i + v),
    lengtharray: (arr) => arr.length,
    typeof: (val) => typeof val,
    isarray: (arr) => Array.isArray(arr),
    isnan: (val) => isNaN(val),
    parseint: (val) => parseInt(val),
    parsefloat: (val) => parseFloat(val),
    toisodate: (val) => new Date(val).toISOString(),
    timeoffset: (isostr) => new Date(isostr).getTimezoneOffset(),
    tostring: (val) => val.toString(),
    urlencode: (val) => encodeURI(val),
    urldecode: (val) => decodeURI(val),
    replacestr: (str, from, to) => str.replace(from, to),
    replaceregexp: (str, reg, to) => str.replace(new RegExp(reg), to),
    replaceallstr: (str, from, to) => str.replaceAll(from, to),
    replaceallregexp: (str, reg, to) => str.replaceAll(new RegExp(reg, 'g'), to),
    split: (str, ch) => str.split(ch),
    joinarrtostr: (arr, ch) => arr.join(ch),
    concatarr: (arr, arr2) => arr.concat(arr2),
    // The seed's table writes mapper with == (loose equality).
    mapper: (val, values, choices) => choices[values.findIndex((target) => target == val)],
    thmapper: (val, values, choices) =>
        choices[values.reduce((acc, curr, i, arr) => ((acc == 0) || acc ? acc : val <= curr ? (acc = i) : (acc = null)), null)],
    bitwisemask: (i, mask, op, shf) =>
        (op === '&' ? parseInt(i) & mask : op === '|' ? parseInt(i) | mask : op === '^' ? parseInt(i) ^ mask : i) >> shf,
    slice: (arr, init, end) => arr.slice(init, end),
    addset: (arr, x) => { return Array.from((new Set(arr)).add(x)) },
    removeset: (arr, x) => { let s = new Set(arr); s.delete(x); return Array.from(s) },
    touppercase: (val) => String(val).toUpperCase(),
    tolowercase: (val) => String(val).toLowerCase(),
    round: (val) => Math.round(val),
    floor: (val) => Math.floor(val),
    ceil: (val) => Math.ceil(val),
    tofixed: (val, decimals) => Number.parseFloat(val).toFixed(decimals),
    gettime: (d) => new Date(d).getTime(),
    toisostring: (d) => new Date(d).toISOString(),
    localestring: (d, timezone, options) => new Date(d).toLocaleString(timezone, options),
    now: () => Date.now(),
    hextostring: (val) => new TextDecoder().decode(new Uint8Array(val.match(/.{1,2}/g).map(byte => parseInt(byte, 16)))),
    valuePicker: (val, pick) => Object.entries(val).filter(([, v]) => v === pick).map(([k]) => k),
    valuePickerMulti: (val, pick) => Object.entries(val).filter(([, v]) => pick.includes(v)).map(([k]) => k),
});

const contexts = {
    seed: { value: 6, ts: 1637245214901, name: 'DevId629', object: { name: 'John', surname: 'Doe' }, array: [1, 3] },
    geo: { longitude: 5, latitude: 37, level: 223 },
    partial: { latitude: 1.9, level: 85.3 },
    spaces: { spaces: '  foobar  ' },
    multi: { variable: 'hello world', location: '40.4165, -3.70256' },
    misc: {
        s: 'abc', e: '', n: null, t: true, f: false, zero: 0, neg: -7.5, big: 1e21, small: 1e-7,
        num: 12.345, str12: '12abc', strnum: ' 42 ', hex: '0x1A', arr: [3, 1, 2], mixed: [1, '1', null, true, 'a'],
        nested: [[1, 2], [3]], empty: [], objs: [{ a: 1, b: 'x' }, { a: 2, b: 'y' }, { a: 3 }],
        obj: { z: 1, a: 2, 10: 'ten', 2: 'two', k: null }, date: '2021-11-18T14:20:14.901Z',
        localdate: '2021-11-18T14:20:14', dateonly: '2021-11-18', rfc: 'Thu, 18 Nov 2021 14:20:14 GMT',
        hexstr: '48656c6c6f', hexutf: 'c3a9e282ac', hexbad: 'zz41', hexodd: '414', hexbom: 'efbbbf41',
        uri: 'http://x.y/a b?c=d&e=ñ#f', enc: 'http://x.y/a%20b%3Fc%23%C3%B1', badenc: '%E0%A4%A',
        json: '{"b":1,"a":[1,2,{"c":null}],"1":true}', badjson: '{a:1}', unicode: 'ñandú 😀 ß',
        greek: 'ΟΔΟΣ ΟΔΟΣ', sp: '\t x \u00a0\n', csv: 'a,b,,c,', path: 'a/b/c', dollar: 'cost: 5',
        flags: { a: 'on', b: 'off', c: 'on', d: 1 }, picks: ['on', 1],
    },
};

const cases = [
    // Seed: Examples of JEXL expressions.
    ['seed', '5 * value'], ['seed', '(6 + value) * 3'], ['seed', 'value / 12 + 1'], ['seed', '(5 + 2) * (value + 7)'],
    ['seed', 'value * 5.2'], ['seed', '"Pruebas " + "De Strings"'], ['seed', 'name + "value is " +value'],
    ['seed', "{coordinates: [value,value], type: 'Point'}"], ['seed', 'ts|toisodate'],
    ['seed', '" a "| trim'], ['seed', 'name|length'], ['seed', 'name|indexOf("e")'], ['seed', 'name|substr(0,name|indexOf("e")+1)'],
    ['seed', '" a "|trim'], ['seed', 'name|indexOf("x")'],
    ['geo', "{coordinates: [longitude,latitude], type: 'Point'}"], ['geo', 'level/100'], ['geo', 'level / 100'],
    ['partial', "longitude+', '+latitude"], ['partial', 'level / 100'], ['spaces', 'spaces | trim'],
    ['multi', "variable | trim | replacestr('hello','hi')"], ['multi', "location | split(', ')[1] | parsefloat()"],
    ['multi', "location|split(', ')[0]|parsefloat"], ['multi', "location | split(', ') | lengtharray"],
    // Operators and JS semantics.
    ['misc', '0.1 + 0.2'], ['misc', '1 + 2 * 3'], ['misc', '2 ^ 3 ^ 2'], ['misc', '2 * 3 % 2'], ['misc', '7 // 2'], ['misc', '-7 // 2'],
    ['misc', '7 % -3'], ['misc', '-7 % 3'], ['misc', '1 / 0'], ['misc', '-1 / 0'], ['misc', '0 / 0'], ['misc', '10 / 4'],
    ['misc', 'big'], ['misc', 'big + ""'], ['misc', 'small + ""'], ['misc', '123456789 * 1000000000000 + ""'], ['misc', '0.000001 + ""'],
    ['misc', '1/3 + ""'], ['misc', '100 + ""'], ['misc', '-1.5e-10 + ""'], ['misc', '2^70 + ""'], ['misc', '2^-20 + ""'],
    ['misc', '"a" + 1'], ['misc', '1 + "a"'], ['misc', '1 + 2 + "a"'], ['misc', '"a" + 1 + 2'], ['misc', 's + n'], ['misc', 's + t'],
    ['misc', 's + undefinedvar'], ['misc', 'undefinedvar + 1'], ['misc', 'n + 1'], ['misc', 't + 1'], ['misc', 'arr + ""'], ['misc', 'arr + 1'],
    ['misc', 'obj + ""'], ['misc', 'nested + "!"'], ['misc', 'mixed + ""'], ['misc', 'empty + 1'], ['misc', '"5" * "4"'], ['misc', '"5" - 2'],
    ['misc', 's * 2'], ['misc', 'n * 2'], ['misc', 'strnum * 1'], ['misc', 'hex * 1'], ['misc', 'e * 1'], ['misc', '"a" * 1e9'],
    ['misc', '1 == 1'], ['misc', '1 == "1"'], ['misc', '0 == ""'], ['misc', 'n == undefinedvar'], ['misc', 'n == 0'], ['misc', 'n == false'],
    ['misc', 't == 1'], ['misc', 't == "1"'], ['misc', 'arr == "3,1,2"'], ['misc', 'arr == arr'], ['misc', '[1] == [1]'], ['misc', '"abc" != "abd"'],
    ['misc', '"10" < "9"'], ['misc', '10 < "9"'], ['misc', '"a" < "b"'], ['misc', 'n < 1'], ['misc', 'undefinedvar < 1'], ['misc', 'undefinedvar >= 0'],
    ['misc', 'n >= 0'], ['misc', 's > 1'], ['misc', 's <= 1'], ['misc', '"B" < "a"'],
    ['misc', 'zero || "x"'], ['misc', 'zero && "x"'], ['misc', 's && 5'], ['misc', 'e || n'], ['misc', '1 || 0 && 0'], ['misc', 'undefinedvar || "def"'],
    ['misc', '!s'], ['misc', '!e'], ['misc', '!!arr'], ['misc', '!empty'], ['misc', 'zero ? "y" : "n"'], ['misc', 's ? "y" : "n"'],
    ['misc', 'zero ?: 5'], ['misc', 's ?: 5'], ['misc', 'num > 10 ? num > 12 ? "big" : "mid" : "small"'], ['misc', '1 + 1 ? 2 : 3'],
    ['misc', '"b" in s'], ['misc', '"d" in s'], ['misc', '1 in arr'], ['misc', '"1" in arr'], ['misc', '1 in obj'], ['misc', 'n in mixed'],
    ['misc', 'objs[1].a'], ['misc', 'objs.a'], ['misc', 'objs[.a > 1]'], ['misc', 'objs[.a > 1].b'], ['misc', 'objs[.b == "y"][0].a'],
    ['misc', 'objs[.c]'], ['misc', 'objs[(.a == 2)]'], ['misc', 'arr[0]'], ['misc', 'arr[3]'], ['misc', 'arr[-1]'], ['misc', 'arr["length"]'],
    ['misc', 'arr.length'], ['misc', 's.length'], ['misc', 's[1]'], ['misc', 'obj.z'], ['misc', 'obj["a"]'], ['misc', 'obj[10]'], ['misc', 'obj.missing'],
    ['misc', 'obj.k'], ['misc', 'n.x'], ['misc', 'undefinedvar.x'], ['misc', 'n[0]'], ['misc', 'undefinedvar[0]'], ['misc', 'arr[true]'], ['misc', 'arr[false]'],
    ['misc', 'nested[0][1]'], ['misc', 'nested.length'], ['misc', 'empty.x'], ['misc', '[1, 2, [3]]'], ['misc', '[]'], ['misc', '{}'],
    ['misc', '{b: 1, a: 2, "10": 3}'], ['misc', '{a: {b: [n, undefinedvar]}}'], ['misc', '{a: undefinedvar, b: 1}'], ['misc', 'obj'],
    ['misc', "'it\\'s'"], ['misc', '"say \\"hi\\""'], ['misc', "'a\\\\b\\\\c'"], ['misc', '"a\\nb"'], ['misc', '- 5'], ['misc', '-5 + 2'],
    ['misc', '-2 ^ 2'], ['misc', '3 - -2'], ['misc', 'undefinedvar'], ['misc', 'n'], ['misc', 'true && false'],
    // Syntax errors (JEXL throws).
    ['misc', '1 +'], ['misc', '(1 + 2'], ['misc', 'a b'], ['misc', '1 = 1'], ['misc', '{a 1}'], ['misc', '@x'], ['misc', 'a.'],
    ['misc', '"unterminated'], ['misc', 's|'], ['misc', '1 ? 2'],
    // Transforms.
    ['misc', 'json|jsonparse'], ['misc', 'json|jsonparse|jsonstringify'], ['misc', 'badjson|jsonparse'], ['misc', '"5"|jsonparse'],
    ['misc', 'obj|jsonstringify'], ['misc', 'undefinedvar|jsonstringify'], ['misc', '(0/0)|jsonstringify'], ['misc', 'mixed|jsonstringify'],
    ['misc', '"a\\"b\\u0001"|jsonstringify'], ['misc', 'unicode|jsonstringify'], ['misc', '{x: undefinedvar, y: [undefinedvar]}|jsonstringify'],
    ['misc', 's|indexOf("c")'], ['misc', 'num|indexOf(".")'], ['misc', 'unicode|indexOf("ú")'], ['misc', 'unicode|indexOf("ß")'], ['misc', 'undefinedvar|indexOf("d")'],
    ['misc', 'unicode|length'], ['misc', 'n|length'], ['misc', 'arr|length'], ['misc', 'sp|trim'], ['misc', 'num|trim'],
    ['misc', 's|substr(1)'], ['misc', 's|substr(-2)'], ['misc', 's|substr(-2, 1)'], ['misc', 's|substr(1, 0)'], ['misc', 's|substr(5)'],
    ['misc', 's|substr(-10, 2)'], ['misc', 's|substr("1", "1")'], ['misc', 'unicode|substr(6, 2)'], ['misc', 'num|substr(0, 4)'],
    ['misc', 'arr|addreduce'], ['misc', 'mixed|addreduce'], ['misc', 'empty|addreduce'], ['misc', 's|addreduce'], ['misc', '[0.1, 0.2]|addreduce'],
    ['misc', 'arr|lengtharray'], ['misc', 's|lengtharray'], ['misc', 'num|lengtharray'], ['misc', 'n|lengtharray'], ['misc', 'obj|lengtharray'],
    ['misc', 's|typeof'], ['misc', 'num|typeof'], ['misc', 'n|typeof'], ['misc', 'undefinedvar|typeof'], ['misc', 'arr|typeof'], ['misc', 't|typeof'],
    ['misc', 'arr|isarray'], ['misc', 's|isarray'], ['misc', 's|isnan'], ['misc', 'strnum|isnan'], ['misc', 'e|isnan'], ['misc', 'n|isnan'],
    ['misc', 'undefinedvar|isnan'], ['misc', 'empty|isnan'], ['misc', 'arr|isnan'],
    ['misc', 'str12|parseint'], ['misc', 's|parseint'], ['misc', 'num|parseint'], ['misc', 'strnum|parseint'], ['misc', 'hex|parseint'],
    ['misc', '"-0x10"|parseint'], ['misc', '"  -12.9e3"|parseint'], ['misc', 'big|parseint'], ['misc', '0.0000005|parseint'], ['misc', 'n|parseint'],
    ['misc', '"99999999999999999999"|parseint'], ['misc', 'str12|parsefloat'], ['misc', '" -.5e-3x"|parsefloat'], ['misc', '"Infinityx"|parsefloat'],
    ['misc', '"1e"|parsefloat'], ['misc', '"."|parsefloat'], ['misc', 's|parsefloat'], ['misc', 'hex|parsefloat'], ['misc', 'arr|parsefloat'],
    ['misc', 'date|toisodate'], ['misc', 'dateonly|toisodate'], ['misc', 'localdate|toisodate'], ['misc', 'rfc|toisodate'], ['misc', '0|toisodate'],
    ['misc', 'n|toisodate'], ['misc', '-1|toisodate'], ['misc', '8.64e15|toisodate'], ['misc', '-62198755200000|toisodate'],
    ['misc', '253402300800000|toisodate'], ['misc', 's|toisodate'], ['misc', 'undefinedvar|toisodate'], ['misc', '"2021-02-30"|toisodate'],
    ['misc', '"2021-11-18T14:20:14+02:00"|toisodate'], ['misc', '"2021-11-18T24:00:00Z"|toisodate'], ['misc', '1.9|toisodate'],
    ['misc', 'date|toisostring'], ['misc', 'date|gettime'], ['misc', 's|gettime'], ['misc', 'dateonly|gettime'], ['misc', '"2021-11"|gettime'], ['misc', '"2021"|gettime'],
    ['misc', 'date|timeoffset'], ['misc', 's|timeoffset'], ['misc', '"2021-07-01"|timeoffset'],
    ['misc', 'num|tostring'], ['misc', 'arr|tostring'], ['misc', 'obj|tostring'], ['misc', 't|tostring'], ['misc', 'n|tostring'], ['misc', 'undefinedvar|tostring'],
    ['misc', 'uri|urlencode'], ['misc', 'enc|urldecode'], ['misc', 'badenc|urldecode'], ['misc', '"%41%2f%zz"|urldecode'], ['misc', 'unicode|urlencode'],
    ['misc', 's|replacestr("b", "X")'], ['misc', '"aaa"|replacestr("a", "b")'], ['misc', 's|replacestr("", "-")'], ['misc', 's|replacestr("b", "[$&$`$\'$$$1]")'],
    ['misc', 'num|replacestr(".", ",")'], ['misc', 'n|replacestr("a", "b")'], ['misc', 'dollar|replacestr("5", 7)'],
    ['misc', '"aaa"|replaceallstr("a", "b")'], ['misc', 's|replaceallstr("", "-")'], ['misc', 'path|replaceallstr("/", "$&$&")'],
    ['misc', 's|replaceregexp("[bc]", "X")'], ['misc', 'path|replaceregexp("(\\\\w)/(\\\\w)", "$2-$1")'], ['misc', 'dollar|replaceregexp("\\\\d+", "[$&]")'],
    ['misc', 's|replaceregexp("(?<first>a)", "$<first>$<first>")'], ['misc', 's|replaceregexp("(x)?b", "[$1]")'], ['misc', 's|replaceregexp("(", "x")'],
    ['misc', 'path|replaceallregexp("/", "\\\\")'], ['misc', '"a1b22c333"|replaceallregexp("\\\\d+", "#")'], ['misc', 's|replaceallregexp("x*", "-")'],
    ['misc', 'sp|replaceallregexp("\\\\s", "_")'], ['misc', '"a.b\\nc"|replaceallregexp(".", "x")'], ['misc', '"ab12"|replaceallregexp("[^\\\\d]", "")'],
    ['misc', 'csv|split(",")'], ['misc', 's|split("")'], ['misc', 's|split()'], ['misc', 's|split("x")'], ['misc', 'num|split(".")'],
    ['misc', 'arr|joinarrtostr("-")'], ['misc', 'mixed|joinarrtostr()'], ['misc', 'nested|joinarrtostr(";")'], ['misc', 's|joinarrtostr(",")'],
    ['misc', 'arr|concatarr([4, 5])'], ['misc', 'arr|concatarr(4)'], ['misc', 'arr|concatarr(nested)'], ['misc', 's|concatarr(arr)'], ['misc', 'num|concatarr(arr)'],
    ['misc', '2|mapper([1, 2, 3], ["a", "b", "c"])'], ['misc', '"2"|mapper([1, 2, 3], ["a", "b", "c"])'], ['misc', '9|mapper([1, 2, 3], ["a", "b", "c"])'],
    ['misc', '"on"|mapper(["on", "off"], [true, false])'], ['misc', '1|mapper(s, arr)'],
    ['misc', '5|thmapper([0, 10, 20], ["low", "mid", "high"])'], ['misc', '0|thmapper([0, 10, 20], ["low", "mid", "high"])'],
    ['misc', '10|thmapper([0, 10, 20], ["low", "mid", "high"])'], ['misc', '25|thmapper([0, 10, 20], ["low", "mid", "high"])'],
    ['misc', '-5|thmapper([0, 10, 20], ["low", "mid", "high"])'], ['misc', '15|thmapper([10, 20], ["a", "b"])'],
    ['misc', '255|bitwisemask(15, "&", 0)'], ['misc', '"0xff"|bitwisemask(240, "&", 4)'], ['misc', '8|bitwisemask(1, "|", 1)'],
    ['misc', '12|bitwisemask(5, "^", 0)'], ['misc', '-16|bitwisemask(0, "none", 2)'], ['misc', '"12abc"|bitwisemask(4, "&")'], ['misc', '4294967295|bitwisemask(1, "|", 0)'],
    ['misc', 'arr|slice(1)'], ['misc', 'arr|slice(-2, -1)'], ['misc', 'arr|slice(2, 1)'], ['misc', 's|slice(1, 2)'], ['misc', 's|slice(-1)'], ['misc', 'num|slice(1)'],
    ['misc', 'arr|addset(4)'], ['misc', 'arr|addset(1)'], ['misc', 'mixed|addset("1")'], ['misc', 's|addset("a")'], ['misc', 'n|addset(1)'], ['misc', 'num|addset(1)'],
    ['misc', '[1, 1, 2]|addset(3)'], ['misc', 'arr|removeset(1)'], ['misc', 'arr|removeset(9)'], ['misc', '[1, 2, 1]|removeset(2)'], ['misc', 'undefinedvar|removeset(1)'],
    ['misc', 's|touppercase'], ['misc', 'unicode|touppercase'], ['misc', 'greek|tolowercase'], ['misc', 'n|touppercase'], ['misc', '"İ"|tolowercase|length'],
    ['misc', 'num|round'], ['misc', '2.5|round'], ['misc', '-2.5|round'], ['misc', '0.49999999999999994|round'], ['misc', '-0.4|round'], ['misc', '"3.7"|round'],
    ['misc', 's|round'], ['misc', 'num|floor'], ['misc', 'neg|floor'], ['misc', 'num|ceil'], ['misc', 'neg|ceil'], ['misc', 'n|ceil'],
    ['misc', '1.005|tofixed(2)'], ['misc', '2.5|tofixed(0)'], ['misc', '-2.5|tofixed(0)'], ['misc', '1.45|tofixed(1)'], ['misc', '8.345|tofixed(2)'],
    ['misc', '0.5|tofixed(0)'], ['misc', '1.5|tofixed(0)'], ['misc', 'num|tofixed(1)'], ['misc', 'num|tofixed'], ['misc', '"12.5abc"|tofixed(3)'],
    ['misc', 's|tofixed(2)'], ['misc', 'big|tofixed(2)'], ['misc', '-0.0001|tofixed(2)'], ['misc', '123.456|tofixed(10)'], ['misc', '1e-10|tofixed(20)'],
    ['misc', 'num|tofixed(101)'], ['misc', '0.000001|tofixed(7)'], ['misc', '1.25|tofixed(1)'], ['misc', '1.35|tofixed(1)'],
    ['misc', 'date|localestring'], ['misc', 'date|localestring("es-ES")'], ['misc', 'date|localestring("es-ES", {timeZone: "Europe/Madrid"})'],
    ['misc', 'date|localestring("en-US", {timeZone: "America/New_York"})'], ['misc', 'date|localestring("de-DE")'], ['misc', 'date|localestring("en-GB", {hour12: true})'],
    ['misc', '"2021-01-05T00:04:05Z"|localestring("en-US", {hour12: false})'], ['misc', '"2021-01-05T00:04:05Z"|localestring()'], ['misc', 's|localestring'],
    ['misc', 'date|localestring("fr-FR")'], ['misc', 'date|localestring("ja-JP")'], ['misc', 'date|localestring("sv-SE")'],
    ['misc', '0|now'], ['misc', 'undefinedvar|now'],
    ['misc', 'hexstr|hextostring'], ['misc', 'hexutf|hextostring'], ['misc', 'hexbad|hextostring'], ['misc', 'hexodd|hextostring'], ['misc', 'hexbom|hextostring'],
    ['misc', '"e282"|hextostring'], ['misc', '"ff41"|hextostring'], ['misc', 'e|hextostring'], ['misc', 'num|hextostring'],
    ['misc', 'flags|valuePicker("on")'], ['misc', 'flags|valuePicker(1)'], ['misc', 'arr|valuePicker(1)'], ['misc', 'flags|valuePickerMulti(picks)'],
    ['misc', 'flags|valuePickerMulti(["off"])'], ['misc', 'flags|valuePickerMulti("on/off")'], ['misc', 'n|valuePicker(1)'],
    // Pipes: precedence, chaining, nesting, strings with pipes.
    ['seed', 'value|tostring + 1'], ['seed', '1 + value|tostring'], ['seed', '!value|tostring'], ['seed', '"a|b"|split("|")'],
    ['seed', '"a|b" + "|" | length'], ['seed', 'name|substr(0, 3)|touppercase|length * 2'], ['seed', 'array|concatarr([5])[2]'],
    ['seed', 'name|split("")[2]|touppercase'], ['seed', 'object|jsonstringify|jsonparse.name'], ['seed', '(value + 1)|tostring|length'],
    ['seed', '[value, ts]|joinarrtostr("/")'], ['seed', 'array[1]|tofixed(2)'], ['seed', 'value > 5 ? name|tolowercase : "no"'],
    ['seed', 'ts|toisodate|substr(0, 10)'], ['seed', 'name|indexOf("Id") >= 0'], ['seed', 'value|round|typeof'],
    // Filters, short-circuit inside predicates, literals with postfix.
    ['misc', 'objs[.a > 1 && .b]'], ['misc', 'objs[.a > 1 || .b == "x"].a'], ['misc', 'objs[.a in [1, 3]]|lengtharray'],
    ['misc', 'nested[.length > 1]'], ['misc', 'mixed[.x]'], ['misc', 'arr[. > 1]'], ['misc', '{a: 1}.a'], ['misc', '[1, 2].length'],
    ['misc', 'objs[.a == 2][0].b|touppercase'], ['misc', 'objs[.a > zero][.b == "y"]'], ['misc', 'objs[.a > 1][1].a'],
    ['misc', 'obj.z ? obj.a : obj.k'], ['misc', 'n ? 1 : undefinedvar ? 2 : 3'], ['misc', '(1, 2)'], ['misc', 'f(1)'],
    ['misc', 'num|tofixed(2)|parsefloat * 2'], ['misc', '"x" + num|tofixed(1) + "y"'], ['misc', 'csv|split(",")|joinarrtostr("|")'],
    ['misc', 'arr|addset(4)|removeset(3)|addreduce'], ['misc', 'json|jsonparse.a[2].c'], ['misc', 'json|jsonparse["1"]'],
    ['misc', '[1,,2]'], ['misc', '{a: 1,}'], ['misc', '((1 + 2) * (3'], ['misc', '(s|length'], ['misc', 'true == "true"'],
    ['misc', '"Ab" < "a"'], ['misc', '[2] > 1'], ['misc', '[2, 3] > 1'], ['misc', 'obj == "[object Object]"'], ['misc', 't + t'],
    ['misc', 'n + n'], ['misc', 'undefinedvar + undefinedvar'], ['misc', 'arr + arr'], ['misc', '-(1)'], ['misc', '!undefinedvar'],
    ['misc', '8 % 3 ^ 2'], ['misc', '2 ^ 0.5'], ['misc', '(0 - 8) ^ (1/3)'], ['misc', '5 // 0'], ['misc', '5 % 0'],
];

const out = [];
const TZ = 'UTC';
process.env.TZ = TZ;
for (const [ctx, expr] of cases) {
    const v = { expr, ctx, tz: TZ };
    try {
        const r = jexl.evalSync(expr, contexts[ctx]);
        const s = JSON.stringify(r);
        v.want = s === undefined ? 'null' : s;
    } catch (e) {
        v.error = true;
        v.message = String(e.message || e);
    }
    out.push(v);
}
process.env.TZ = 'Europe/Madrid';
for (const expr of ['date|timeoffset', '"2021-07-01"|timeoffset', 'localdate|toisodate', 'date|localestring("es-ES")', 'localdate|gettime',
    '"2021-01-05T00:04:05Z"|localestring()', '"2021-11-18 14:20:14"|toisodate', '"2021/11/18"|gettime']) {
    const v = { expr, ctx: 'misc', tz: 'Europe/Madrid' };
    try {
        const s = JSON.stringify(jexl.evalSync(expr, contexts.misc));
        v.want = s === undefined ? 'null' : s;
    } catch (e) {
        v.error = true;
        v.message = String(e.message || e);
    }
    out.push(v);
}
process.stdout.write(JSON.stringify({ contexts, now: FIXED_NOW, vectors: out }, null, 1) + '\n');
