/**
 * The demo company: 云帆智能科技, a B2B software vendor selling across three regions.
 * Company → 3 regions (华东, 华北, 华南) → 8 teams → 60 reps, plus managers and directors.
 * Everything here is a constant of the program; the generator inlines it into SQL.
 */

export const COMPANY = { team_id: 'T00', name: '全公司', company: '云帆智能科技' };

export const REGIONS = [
  { team_id: 'R1', name: '华东' },
  { team_id: 'R2', name: '华北' },
  { team_id: 'R3', name: '华南' }
];

/** Teams with their region, head count and the cities (with province and weight) they cover. */
export const TEAMS = [
  { team_id: 'T11', name: '上海一组', parent: 'R1', reps: 9, cities: [['上海', '上海', 7], ['苏州', '江苏', 2], ['嘉兴', '浙江', 1]] },
  { team_id: 'T12', name: '上海二组', parent: 'R1', reps: 8, cities: [['上海', '上海', 7], ['无锡', '江苏', 2], ['南通', '江苏', 1]] },
  { team_id: 'T13', name: '杭州组', parent: 'R1', reps: 8, cities: [['杭州', '浙江', 6], ['宁波', '浙江', 3], ['温州', '浙江', 2]] },
  { team_id: 'T14', name: '南京组', parent: 'R1', reps: 7, cities: [['南京', '江苏', 5], ['合肥', '安徽', 3], ['常州', '江苏', 2]] },
  { team_id: 'T21', name: '北京一组', parent: 'R2', reps: 8, cities: [['北京', '北京', 8], ['天津', '天津', 2]] },
  { team_id: 'T22', name: '北京二组', parent: 'R2', reps: 7, cities: [['北京', '北京', 5], ['济南', '山东', 2], ['青岛', '山东', 2], ['石家庄', '河北', 1]] },
  { team_id: 'T31', name: '广州组', parent: 'R3', reps: 7, cities: [['广州', '广东', 6], ['佛山', '广东', 2], ['南宁', '广西', 1], ['海口', '海南', 1]] },
  { team_id: 'T32', name: '深圳组', parent: 'R3', reps: 6, cities: [['深圳', '广东', 6], ['东莞', '广东', 2], ['厦门', '福建', 2]] }
] as const;

export const SURNAMES = [
  '张', '王', '李', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '胡', '朱', '高', '林', '何', '郭', '马', '罗',
  '梁', '宋', '郑', '谢', '韩', '唐', '冯', '于', '董', '萧', '程', '曹', '袁', '邓', '许', '傅', '沈', '曾', '彭', '吕'
];
export const GIVEN_NAMES = [
  '伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀英', '霞', '平',
  '刚', '桂英', '华', '建华', '文', '晓东', '海燕', '志强', '雪', '婷', '宇', '浩', '欣怡', '子轩', '梓涵', '佳怡', '一鸣', '思远', '晨', '鑫'
];

/** Two-character trade-name words; a customer's trade name joins two different ones. */
export const TRADE_WORDS = (
  '华信 博远 天成 联创 金桥 恒泰 中科 瑞丰 新元 嘉禾 鼎盛 汇智 佳和 启明 蓝海 正合 东方 泰和 宏图 优品 ' +
  '晨光 海纳 星辰 盛世 安信 远航 凯瑞 德信 华创 智远 精诚 卓越 领航 博瑞 中盈 思源 银河 长风 明德 永诚 ' +
  '信达 万通 国泰 华夏 众合 百川 奥维 天翼 金鼎 润泽 聚源 尚品 和谐 鸿运 宝丰 兴业 长城 环宇 中天 九州 ' +
  '同舟 伟业 立信 诚信 科达 天华 新航 华美 金石 元亨 昊天 裕丰 东升 晟达 联合 恒信 创世 英特 云海 广和 ' +
  '汇通 旭日 千禧 紫光 绿源 鑫源 龙腾 凯达 华锐 新思 万象 澳华 富通 至诚 朗润 金阳 华阳 荣盛 飞扬 辰星 ' +
  '佳信 安泰 高远 丰泽 景明 益民 康达 瑞祥 宏达 振华 泓源 睿思 中原 长江 南方 北辰 西部 东海 中南 宁远'
).split(' ');

/** Company-name suffix → industry. */
export const INDUSTRY_SUFFIXES: [string, string][] = [
  ['网络科技', '信息技术'],
  ['信息技术', '信息技术'],
  ['软件', '信息技术'],
  ['智能制造', '制造业'],
  ['精密机械', '制造业'],
  ['电子', '制造业'],
  ['医疗器械', '医疗健康'],
  ['生物科技', '医疗健康'],
  ['新能源', '能源'],
  ['供应链管理', '物流'],
  ['物流', '物流'],
  ['教育科技', '教育'],
  ['电子商务', '零售'],
  ['商贸', '零售'],
  ['建设工程', '建筑地产'],
  ['汽车部件', '汽车']
];

/** Lead sources and their shares. */
export const SOURCES: [string, number][] = [
  ['官网咨询', 0.28],
  ['老客户推荐', 0.2],
  ['展会', 0.15],
  ['电话营销', 0.15],
  ['渠道合作', 0.13],
  ['线上广告', 0.09]
];

/** Products with a price multiplier on the deal's base amount and their shares. */
export const PRODUCTS: [string, number, number][] = [
  ['CRM 标准版', 0.5, 0.3],
  ['CRM 专业版', 1, 0.28],
  ['CRM 旗舰版', 2.2, 0.14],
  ['数据中台', 2.8, 0.08],
  ['实施服务', 0.7, 0.12],
  ['运维服务', 0.4, 0.08]
];

export const LOSS_REASONS: [string, number][] = [
  ['价格过高', 0.3],
  ['选择竞品', 0.25],
  ['预算不足', 0.15],
  ['需求取消', 0.12],
  ['决策延期', 0.1],
  ['联系不上', 0.08]
];

/** Fictional competitors. */
export const COMPETITORS = ['云启软件', '联拓科技', '海思达', '智汇云', '速通CRM'];

export const ACTIVITY_TYPES: [string, number, string][] = [
  ['call', 0.4, '电话沟通'],
  ['visit', 0.2, '上门拜访'],
  ['email', 0.15, '邮件往来'],
  ['meeting', 0.15, '会议演示'],
  ['other', 0.1, '微信跟进']
];
