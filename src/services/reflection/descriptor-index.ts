import type { DescFile, DescService } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * The schema a server serves, indexed for server reflection: every file the
 * served services are declared in plus everything they import, by file name
 * and by each symbol they declare. Built once from protobuf-es's generated
 * file descriptors (the `GenFile` of each `gen/` module), so it is always
 * exactly the contract the router was built from.
 */
export class DescriptorIndex {
  /** Fully-qualified service names, in the order the router registered them. */
  readonly serviceNames: readonly string[];
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(services: readonly DescService[]) {
    this.serviceNames = [...new Set(services.map((s) => s.typeName))];
    for (const s of services) this.addFile(s.file);
  }

  /** The file called `name` (its path as imported, e.g. `google/protobuf/timestamp.proto`). */
  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  /**
   * The file declaring `symbol`: a message, enum, service or extension
   * (nested ones included), a service's method or a message's field.
   */
  fileOfSymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  /** The file declaring the extension `number` of message `extendee`, if any is known. */
  fileOfExtension(extendee: string, number: number): DescFile | undefined {
    for (const file of this.files.values()) {
      for (const t of nestedTypes(file)) {
        if (t.kind === "extension" && t.extendee.typeName === extendee && t.number === number) return file;
      }
    }
    return undefined;
  }

  /** The field numbers of every known extension of message `extendee`. */
  extensionNumbersOf(extendee: string): number[] | undefined {
    if (!this.symbols.has(extendee)) return undefined;
    const numbers: number[] = [];
    for (const file of this.files.values()) {
      for (const t of nestedTypes(file))
        if (t.kind === "extension" && t.extendee.typeName === extendee) numbers.push(t.number);
    }
    return numbers;
  }

  /**
   * `file` first, then every file it imports, directly or not, each once:
   * a client builds its schema from the set without asking again.
   */
  withDependencies(file: DescFile): DescFile[] {
    const out: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile): void => {
      if (seen.has(fileName(f))) return;
      seen.add(fileName(f));
      out.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return out;
  }

  /** The serialized google.protobuf.FileDescriptorProto of `file` (cached). */
  encode(file: DescFile): Uint8Array {
    const name = fileName(file);
    let bytes = this.encoded.get(name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(name, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    const name = fileName(file);
    if (this.files.has(name)) return;
    this.files.set(name, file);
    for (const t of nestedTypes(file)) {
      this.symbols.set(t.typeName, file);
      if (t.kind === "service") for (const m of t.methods) this.symbols.set(`${t.typeName}.${m.name}`, file);
      if (t.kind === "message") for (const f of t.fields) this.symbols.set(`${t.typeName}.${f.name}`, file);
      if (t.kind === "enum") {
        // Enum values are scoped like siblings of their enum (protobuf scoping).
        const scope = t.typeName.slice(0, t.typeName.lastIndexOf(".") + 1);
        for (const v of t.values) this.symbols.set(scope + v.name, file);
      }
    }
    for (const d of file.dependencies) this.addFile(d);
  }
}

/** The file's path as other files import it (DescFile.name drops ".proto"). */
export function fileName(file: DescFile): string {
  return file.proto.name;
}
