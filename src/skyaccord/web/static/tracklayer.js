/* Tracks as one MapLibre custom layer: a binary vertex buffer (Float32Array: Web Mercator
 * x, y, colour r, g, b, point size) drawn as WebGL points in a single call. A 1 Hz update
 * of 10,000 tracks is one buffer upload: no GeoJSON, no worker, no tiling.
 * skyTrackLayer(onDrawn) returns {layer, set(Float32Array, n)}; onDrawn(tMs) is called
 * after the first frame that draws a new buffer. */
"use strict";

window.skyTrackLayer = function (onDrawn) {
  const STRIDE = 6;
  const VS = `
    attribute vec2 a_pos;
    attribute vec4 a_col;
    uniform mat4 u_matrix;
    uniform float u_dpr;
    varying vec4 v_col;
    void main() {
      gl_Position = u_matrix * vec4(a_pos, 0.0, 1.0);
      gl_PointSize = a_col.a * u_dpr;
      v_col = a_col;
    }`;
  const FS = `
    precision mediump float;
    varying vec4 v_col;
    void main() {
      vec2 d = gl_PointCoord - vec2(0.5);
      float r = length(d);
      if (r > 0.5) discard;
      bool selected = v_col.a > 12.0;
      float ring = selected ? 0.30 : 0.38;
      vec3 edge = selected ? vec3(1.0, 0.867, 0.341) : vec3(0.043, 0.102, 0.165);
      gl_FragColor = vec4(r > ring ? edge : v_col.rgb, 1.0);
    }`;
  let prog = null, buf = null, aPos = -1, aCol = -1, uMatrix = null, uDpr = null;
  let pending = null, count = 0, map = null;

  function compile(gl, type, src) {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    return s;
  }

  const layer = {
    id: "tracks", type: "custom", renderingMode: "2d",
    onAdd(m, gl) {
      map = m;
      prog = gl.createProgram();
      gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VS));
      gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FS));
      gl.linkProgram(prog);
      if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
      aPos = gl.getAttribLocation(prog, "a_pos");
      aCol = gl.getAttribLocation(prog, "a_col");
      uMatrix = gl.getUniformLocation(prog, "u_matrix");
      uDpr = gl.getUniformLocation(prog, "u_dpr");
      buf = gl.createBuffer();
    },
    render(gl, args) {
      const matrix = (args && args.defaultProjectionData && args.defaultProjectionData.mainMatrix) ||
        (args && args.modelViewProjectionMatrix) || args;
      gl.useProgram(prog);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      const fresh = pending;
      if (fresh) {
        gl.bufferData(gl.ARRAY_BUFFER, fresh.data.subarray(0, fresh.n * STRIDE), gl.DYNAMIC_DRAW);
        count = fresh.n;
        pending = null;
      }
      if (count) {
        gl.uniformMatrix4fv(uMatrix, false, matrix);
        gl.uniform1f(uDpr, window.devicePixelRatio || 1);
        gl.enableVertexAttribArray(aPos);
        gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, STRIDE * 4, 0);
        gl.enableVertexAttribArray(aCol);
        gl.vertexAttribPointer(aCol, 4, gl.FLOAT, false, STRIDE * 4, 8);
        gl.enable(gl.BLEND);
        gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
        gl.drawArrays(gl.POINTS, 0, count);
        gl.disableVertexAttribArray(aPos);
        gl.disableVertexAttribArray(aCol);
      }
      if (fresh && onDrawn) onDrawn(performance.now(), fresh.n);
    },
  };

  function set(data, n) {
    pending = { data, n };
    if (map) map.triggerRepaint();
  }
  return { layer, set, count: () => count };
};
