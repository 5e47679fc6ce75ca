// A tile-grid map of China's 31 provinces: each province one square, placed by hand so that
// neighbours stay neighbours (row 0 is the north, column 0 the west). No geographic data needed.
export const CHINA_TILES: Record<string, [row: number, col: number]> = {
  Heilongjiang: [0, 7],
  "Inner Mongolia": [1, 4], Beijing: [1, 5], Jilin: [1, 7],
  Xinjiang: [2, 0], Gansu: [2, 2], Ningxia: [2, 3], Shanxi: [2, 4], Hebei: [2, 5], Tianjin: [2, 6], Liaoning: [2, 7],
  Qinghai: [3, 1], Shaanxi: [3, 3], Henan: [3, 4], Shandong: [3, 5],
  Tibet: [4, 1], Sichuan: [4, 2], Chongqing: [4, 3], Hubei: [4, 4], Anhui: [4, 5], Jiangsu: [4, 6], Shanghai: [4, 7],
  Yunnan: [5, 2], Guizhou: [5, 3], Hunan: [5, 4], Jiangxi: [5, 5], Zhejiang: [5, 6],
  Guangxi: [6, 3], Guangdong: [6, 4], Fujian: [6, 5],
  Hainan: [7, 3],
};

/** Tile positions for `regions`: China's grid when every region is a province, else rows in order. */
export function tilesFor(regions: string[]): Map<string, [number, number]> {
  if (regions.every((r) => r in CHINA_TILES)) return new Map(regions.map((r) => [r, CHINA_TILES[r]]));
  const cols = Math.ceil(Math.sqrt(regions.length * 1.5));
  return new Map(regions.map((r, i) => [r, [Math.floor(i / cols), i % cols]]));
}
