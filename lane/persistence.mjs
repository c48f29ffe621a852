// Durable Object storage and alarms on disk, for `flaresuite dev`: each object is one file,
// `<persist>/lane-durable-objects/<binding>/<id>.v8`, holding its name, its storage (a Map of
// structured-clone values, written with the serializer structuredClone uses) and its alarm.
// Written after every event of the object, atomically (write, then rename), so a stopped
// server leaves the state of its last finished event. Hibernated sockets are not kept: a
// restart drops every connection, as a redeploy does.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { deserialize, serialize } from "node:v8";

const EXTENSION = ".v8";

export class DurableObjectStore {
  #root;

  constructor(persistPath) {
    this.#root = path.join(persistPath, "lane-durable-objects");
  }

  #file(binding, id) {
    return path.join(this.#root, encodeURIComponent(binding), `${id}${EXTENSION}`);
  }

  // [{id, name, data, alarm}] for every object of `binding` saved so far.
  load(binding) {
    const dir = path.join(this.#root, encodeURIComponent(binding));
    let files;
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(EXTENSION));
    } catch (error) {
      if (error.code === "ENOENT") return [];
      throw error;
    }
    return files.map((file) => ({ id: file.slice(0, -EXTENSION.length), ...deserialize(readFileSync(path.join(dir, file))) }));
  }

  // Saves one object; one with no storage and no alarm is removed.
  save(binding, id, { name, data, alarm }) {
    const file = this.#file(binding, id);
    if (data.size === 0 && alarm === null) {
      rmSync(file, { force: true });
      return;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, serialize({ name, data, alarm }));
    renameSync(`${file}.tmp`, file);
  }
}
